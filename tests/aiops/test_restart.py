"""Workers killed mid-stream (SIGKILL, SIGTERM) under a running broker lose nothing and
duplicate nothing: the store ends exactly as an uninterrupted run would leave it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from aiops.model import Alert, AlertStatus
from aiops.settings import Settings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.wire.shapes import alert_key, decode_incident, encode_alert
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.support.kafka import read_topic

pytestmark = pytest.mark.broker

T0 = 1_790_000_000.0


def _alerts() -> list[Alert]:
    """40 bursts, two hours apart, of 8 alerts (firing, then resolved) on one service; the
    same alerts recur on a service every 13 bursts and must open a new incident each time."""
    out: list[Alert] = []
    for burst in range(40):
        service = f"svc{burst % 13}"
        base = T0 + burst * 7200
        for i in range(4):
            labels = {"alertname": f"Alert{i}", "service": service, "severity": "warning"}
            out.append(Alert(labels, {"score": "0.9"}, base + 10 * i))
            out.append(Alert(labels, {}, base + 10 * i, base + 120 + i,
                             status=AlertStatus.RESOLVED))
    return out


def _env(tmp_path: Path, topics: Topics, broker: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIOPS_KAFKA__BOOTSTRAP_SERVERS": broker,
        "AIOPS_KAFKA__GROUP_PREFIX": topics.alerts,
        "AIOPS_STORE__URL": f"sqlite:///{tmp_path / 'restart.db'}",
        "AIOPS_TOPICS__ALERTS": topics.alerts,
        "AIOPS_TOPICS__INCIDENTS": topics.incidents,
        "AIOPS_TOPICS__DLQ": topics.dlq,
        "AIOPS_TOPICS__METRICS": topics.metrics,
        "AIOPS_TOPICS__LOGS": topics.logs,
        "AIOPS_TOPICS__ACTIONS": topics.actions,
        "AIOPS_CORRELATION__QUIET_PERIOD_S": "600",
        "AIOPS_LOG_LEVEL": "WARNING",
    })
    return env


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "aiops", "worker", "correlate"],
                                env=env, stdout=handle, stderr=subprocess.STDOUT)


def _expected(tmp_path: Path, alerts: list[Alert]) -> dict[str, tuple[set[str], str]]:
    """The incidents an uninterrupted run produces (in-process replay of the same alerts)."""
    from aiops.replay import replay_files

    source = tmp_path / "alerts.jsonl"
    source.write_bytes(b"".join(encode_alert(a) + b"\n" for a in alerts))
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'expected.db'}"
    settings.correlation.quiet_period_s = 600
    # In file order: the order the worker is fed (a firing alert's resolve right after it).
    incidents, _ = replay_files(settings, alerts=source, order="file")
    return {i.id: (set(i.fingerprints), i.status.value) for i in incidents}


def test_kill_and_restart_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, topics: Topics, broker: str, kafka: KafkaConfig
) -> None:
    alerts = _alerts()
    expected = _expected(tmp_path, alerts)
    assert len(expected) == 40

    ensure_topics(kafka, topics.specs())
    env = _env(tmp_path, topics, broker)
    upgrade(env["AIOPS_STORE__URL"])
    store = Store(create_engine(env["AIOPS_STORE__URL"]))
    producer = EventProducer(kafka)

    # The feeder holds at a third and at two thirds of the stream until the kill and the
    # SIGTERM have landed, so a slow worker cannot let the stream end before them.
    landed = [threading.Event(), threading.Event()]

    def produce() -> None:
        for start in range(0, len(alerts), 4):
            for gate, event in zip((len(alerts) // 3, 2 * len(alerts) // 3), landed,
                                   strict=True):
                if start >= gate:
                    event.wait(120)
            producer.publish([Record(topics.alerts, alert_key(a), encode_alert(a))
                              for a in alerts[start:start + 4]])
            time.sleep(0.4)

    feeder = threading.Thread(target=produce)
    feeder.start()
    log = tmp_path / "worker.log"

    def count() -> int:
        return len(store.list_incidents(limit=1000))

    def wait_for(n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while count() < n and time.monotonic() < deadline:
            time.sleep(0.1)

    worker = _start(env, log)
    wait_for(3)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    killed_at = count()
    assert feeder.is_alive(), "the kill must land mid-stream"
    landed[0].set()

    worker = _start(env, log)
    wait_for(killed_at + 2)
    assert feeder.is_alive(), "the SIGTERM must land mid-stream"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, log.read_text()[-2000:]
    landed[1].set()

    worker = _start(env, log)
    feeder.join()
    wait_for(40, timeout=90)

    def state() -> dict[str, tuple[set[str], str]]:
        return {i.id: (set(i.fingerprints), i.status.value)
                for i in store.list_incidents(limit=1000)}

    deadline = time.monotonic() + 60
    while state() != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0

    # No input lost, nothing doubled: the same incidents, members and states as a run
    # that was never interrupted.
    assert state() == expected
    assert sum(status == "resolved" for _, status in expected.values()) >= 39
    # The feed holds each incident's versions; a version, if repeated, is the same document.
    feed = [decode_incident(v) for _, v in
            read_topic(kafka, topics.incidents, expect=10_000, timeout=8)]
    assert {i.id for i in feed} == set(expected)
    by_version: dict[tuple[str, int], object] = {}
    for incident in feed:
        key = (incident.id, incident.version)
        assert by_version.setdefault(key, incident) == incident
