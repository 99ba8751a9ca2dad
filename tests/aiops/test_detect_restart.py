"""A detect worker killed with SIGKILL mid-stream, under the real broker, restarts from its
checkpoint: the alerts on the alerts topic are those of an uninterrupted run, including a
spike that comes after the restart but before a fresh detector could have warmed up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import text

from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.wire.shapes import decode_alert
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.aiops.detect_data import alert_set, scrapes
from tests.aiops.test_detect_checkpoints import _incoming, _run, _stage
from tests.support.kafka import read_topic

pytestmark = pytest.mark.broker

SECONDS = 700
SPIKE_AT = 480
KILL_AFTER = 380  # event seconds checkpointed before the kill: a fresh detector needs 130
HOLD_AT = KILL_AFTER + 30  # the feeder waits here until the kill, however slow the worker


def _env(tmp_path: Path, topics: Topics, broker: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIOPS_KAFKA__BOOTSTRAP_SERVERS": broker,
        "AIOPS_KAFKA__GROUP_PREFIX": topics.metrics,
        "AIOPS_STORE__URL": f"sqlite:///{tmp_path / 'detect.db'}",
        "AIOPS_TOPICS__METRICS": topics.metrics,
        "AIOPS_TOPICS__LOGS": topics.logs,
        "AIOPS_TOPICS__ALERTS": topics.alerts,
        "AIOPS_TOPICS__INCIDENTS": topics.incidents,
        "AIOPS_TOPICS__DLQ": topics.dlq,
        "AIOPS_TOPICS__ACTIONS": topics.actions,
        "AIOPS_DETECTION__CHECKPOINT_INTERVAL_S": "0.5",
        "AIOPS_LOG_LEVEL": "WARNING",
    })
    return env


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "aiops", "worker", "detect"],
                                env=env, stdout=handle, stderr=subprocess.STDOUT)


def test_sigkilled_detect_worker_raises_what_an_uninterrupted_one_does(
    tmp_path: Path, topics: Topics, broker: str, kafka: KafkaConfig
) -> None:
    data = scrapes(SECONDS, spike_at=SPIKE_AT, shift_at=300)
    expected = alert_set(_run(_stage(None), [m for _, m in _incoming(data)], chunk=60))
    assert any(fp for fp, status, start, _ in expected
               if status == "firing" and start >= 1_790_000_000.0 + SPIKE_AT)

    ensure_topics(kafka, topics.specs())
    env = _env(tmp_path, topics, broker)
    upgrade(env["AIOPS_STORE__URL"])
    db = create_engine(env["AIOPS_STORE__URL"])
    producer = EventProducer(kafka)
    sent = [0]
    killed = threading.Event()

    def produce() -> None:
        step = 30  # ten event seconds of three services
        for start in range(0, len(data), step):
            if sent[0] >= HOLD_AT:  # a slow worker must not let the spike through before the kill
                killed.wait(120)
            producer.publish([Record(topics.metrics, service.encode(), value)
                              for service, _, value in data[start:start + step]])
            sent[0] = data[min(start + step, len(data)) - 1][1]
            time.sleep(0.2)

    def committed() -> int:
        consumer = Consumer(kafka.consumer(f"{topics.metrics}.detect"))
        try:
            parts = [TopicPartition(topics.metrics, p) for p in range(topics.data_partitions)]
            return sum(max(0, tp.offset) for tp in consumer.committed(parts, timeout=5))
        finally:
            consumer.close()

    def saved() -> int:
        with db.connect() as conn:
            return int(conn.execute(text(
                "select coalesce(sum(next_offset), 0) from stage_checkpoints")).scalar_one())

    log = tmp_path / "worker.log"
    worker = _start(env, log)
    feeder = threading.Thread(target=produce)
    feeder.start()
    deadline = time.monotonic() + 120
    while committed() < KILL_AFTER * 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent[0] < SPIKE_AT - 30, "the kill must land well before the spike"
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    killed_at = sent[0]
    killed.set()

    worker = _start(env, log)
    feeder.join()
    deadline = time.monotonic() + 90
    while committed() < len(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0, log.read_text()[-3000:]

    got = alert_set([decode_alert(v) for _, v in
                     read_topic(kafka, topics.alerts, expect=10_000, timeout=8)])
    assert got == expected, (killed_at, log.read_text()[-3000:])
    assert saved() == len(data)  # the clean stop saved every partition at its end
