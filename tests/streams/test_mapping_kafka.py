"""Existing pipelines' shapes on the real local broker, through the engine's stages.

Metrics in the prometheus-kafka-adapter shape and our native shape, Alertmanager alert JSON
(API v2, as tools that export Alertmanager's state write it), Vector log records through a
field mapping; malformed records of each kind end on the DLQ with the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from aiops.app import Engine, Workers
from aiops.model import Alert, LogRecord
from aiops.settings import LogMappingSettings, Settings
from aiops.wire.logmapping import LogFieldMapping
from aiops.wire.shapes import alert_key, decode_alert, encode_alert
from detectors import default_log_alerter
from streams.kafka import KafkaConfig
from streams.producer import EventProducer, Record
from streams.runner import StageRunner
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics
from tests.support.kafka import read_topic
from tests.support.polling import eventually

pytestmark = pytest.mark.broker


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[Engine]:
    settings = Settings.load(None)
    settings.kafka.group_prefix = topics.metrics
    settings.kafka.auto_offset_reset = "earliest"
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    yield eng




def test_adapter_and_native_metrics_and_alertmanager_alerts(engine: Engine) -> None:
    workers = Workers([engine.runner("detect"), engine.runner("correlate")])
    workers.start()
    try:
        assert workers.wait_ready(60)
        start = 1_790_000_000.0
        records = []
        # past the default detector's warm-up (warmup + likelihood_warmup points), then a spike
        for i in range(260):
            ts = start + 15 * i
            value = 50.0 + (i % 7) * 0.5 + (400.0 if 200 <= i < 212 else 0.0)
            # prometheus-kafka-adapter: RFC 3339 timestamp, value as a string, __name__ label
            adapter = {"timestamp": _iso(ts), "value": str(value), "name": "latency_ms",
                       "labels": {"__name__": "latency_ms", "job": "cart", "instance": "c1"}}
            records.append(Record(engine.topics.metrics, b"cart", orjson.dumps(adapter)))
        native = {"samples": [{"name": "latency_ms", "labels": {"job": "cart",
                                                                 "instance": "c1"},
                               "ts": start + 15 * 260, "value": 50.0}]}
        records.append(Record(engine.topics.metrics, b"cart", orjson.dumps(native)))
        # Alertmanager API v2 gettable alert: status is an object, extra fields abound
        am_alert = {
            "labels": {"alertname": "DiskFull", "service": "db", "severity": "critical"},
            "annotations": {"summary": "disk 95%"}, "startsAt": _iso(start + 900),
            "endsAt": _iso(start + 4000), "updatedAt": _iso(start + 901),
            "generatorURL": "http://prometheus/graph", "fingerprint": "0123456789abcdef",
            "receivers": [{"name": "aiops"}],
            "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
        }
        records.append(Record(engine.topics.alerts, b"db", orjson.dumps(am_alert)))
        records += [
            Record(engine.topics.metrics, b"x", orjson.dumps(
                {"timestamp": _iso(start), "value": "not-a-number", "name": "m"})),
            Record(engine.topics.metrics, b"x", b"\x00\x01 binary"),
            Record(engine.topics.alerts, b"x", orjson.dumps({"labels": {"a": "b"},
                                                              "status": "pending"})),
        ]
        EventProducer(engine.kafka).publish(records)

        incidents = eventually(lambda: len(engine.store.list_incidents()) >= 2 and
                               engine.store.list_incidents(), timeout=40)
        assert incidents, "no incidents from the adapter metrics and the Alertmanager alert"
        by_service = {i.services[0]: i for i in incidents}
        assert set(by_service) == {"cart", "db"}
        assert by_service["db"].alerts[0].fingerprint == "0123456789abcdef"
        assert by_service["cart"].alerts[0].labels["alertname"] == "MetricAnomaly"

        dead = [orjson.loads(v) for _, v in read_topic(engine.kafka, engine.topics.dlq,
                                                      expect=3)]
        reasons = " | ".join(sorted(d["reason"] for d in dead))
        assert "'not-a-number' is not a number" in reasons
        assert "invalid JSON" in reasons
        assert "neither firing nor resolved" in reasons
    finally:
        workers.stop()
    assert not workers.errors


class MappedLogDetect:
    """Logs decoded through a :class:`LogFieldMapping`, counted by the engine's log alerter.

    The same decode/dead-letter contract as the detect stage, for the logs topic only.
    """

    name = "detect-logs"

    def __init__(self, topics: Topics, mapping: LogFieldMapping) -> None:
        self._topics = topics
        self._mapping = mapping
        self._alerter = default_log_alerter()

    def topics(self) -> list[str]:
        return [self._topics.logs]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        result = StageResult()
        records: list[LogRecord] = []
        for message in batch:
            try:
                records.extend(self._mapping.decode(message.value))
            except Exception as exc:
                result.dead.append(DeadLetter(message, getattr(exc, "reason", repr(exc))))
        alerts: list[Alert] = self._alerter.process(records)
        result.outputs = [Record(self._topics.alerts, alert_key(a), encode_alert(a))
                          for a in alerts]
        return result

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        return []


def test_vector_logs_through_the_mapping(kafka: KafkaConfig, engine: Engine) -> None:
    topics = engine.topics
    mapping = LogFieldMapping.from_config(**LogMappingSettings().model_dump())
    start = 1_790_000_000.0
    values = []
    for i in range(0, 1500, 10):  # 25 quiet minutes, one error every two minutes
        level = "error" if i % 120 == 0 else "info"
        values.append({"timestamp": _iso(start + i), "message": f"request {i}", "level": level,
                       "kubernetes": {"pod_labels": {"app.kubernetes.io/name": "cart"},
                                      "pod_namespace": "shop", "pod_name": "cart-1"}})
    values += [{"timestamp": _iso(start + 1500 + i), "message": "db timeout", "level": "ERROR",
                "kubernetes": {"pod_labels": {"app.kubernetes.io/name": "cart"}}}
               for i in range(40)]
    values.append({"timestamp": _iso(start + 1600), "message": "ok", "level": "info",
                   "kubernetes": {"pod_labels": {"app.kubernetes.io/name": "cart"}}})
    producer = EventProducer(kafka)
    producer.publish([Record(topics.logs, b"cart", orjson.dumps({"records": values}))])
    producer.publish([Record(topics.logs, b"cart", orjson.dumps({"message": "no time"}))])

    runner = StageRunner(MappedLogDetect(topics, mapping), kafka,
                         group_id=f"{topics.logs}.g", dlq_topic=topics.dlq)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        alerts = [decode_alert(v) for _, v in read_topic(kafka, topics.alerts, expect=1)]
        dead = [orjson.loads(v) for _, v in read_topic(kafka, topics.dlq, expect=1)]
    finally:
        runner.stop()
        thread.join(20)
    assert (alerts[0].name, alerts[0].service, alerts[0].status.value) == (
        "LogErrorRate", "cart", "firing")
    assert "no timestamp" in dead[0]["reason"] and dead[0]["stage"] == "detect-logs"
