"""A stage run as a faust-streaming agent (``aiops worker STAGE --runtime faust``) on the
real local broker: same incidents, same dead letters, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from aiops.model import Alert
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.wire.shapes import alert_key, decode_incident, encode_alert
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.support.kafka import read_topic

pytestmark = pytest.mark.broker


def test_correlate_stage_as_faust_agent(
    tmp_path: Path, topics: Topics, broker: str, kafka: KafkaConfig
) -> None:
    url = f"sqlite:///{tmp_path / 'faust.db'}"
    upgrade(url)
    ensure_topics(kafka, topics.specs())
    alerts = [Alert({"alertname": f"A{i}", "service": "cart"}, {"score": "0.9"},
                    1_790_000_000.0 + i) for i in range(3)]
    EventProducer(kafka).publish(
        [Record(topics.alerts, alert_key(a), encode_alert(a)) for a in alerts]
        + [Record(topics.alerts, b"cart", b"{garbage")]
    )
    env = dict(os.environ)
    env.update({
        "AIOPS_KAFKA__BOOTSTRAP_SERVERS": broker,
        "AIOPS_KAFKA__GROUP_PREFIX": topics.alerts,
        "AIOPS_STORE__URL": url,
        "AIOPS_TOPICS__ALERTS": topics.alerts,
        "AIOPS_TOPICS__INCIDENTS": topics.incidents,
        "AIOPS_TOPICS__DLQ": topics.dlq,
        "AIOPS_LOG_LEVEL": "WARNING",
    })
    log = tmp_path / "faust.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiops", "worker", "correlate", "--runtime", "faust"],
            env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        feed = read_topic(kafka, topics.incidents, expect=1, timeout=90)
        dead = read_topic(kafka, topics.dlq, expect=1, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert feed, log.read_text()[-3000:]
    store = Store(create_engine(url))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(store.list_incidents()[0].alerts) < 3:
        time.sleep(0.2)
    stored = store.list_incidents()
    assert len(stored) == 1 and len(stored[0].alerts) == 3
    assert decode_incident(feed[0][1]).id == stored[0].id
    assert orjson.loads(dead[0][1])["value"] == "{garbage"
    assert code == 0
