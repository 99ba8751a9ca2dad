"""The documentation's configs and consumer example work as written.

Vector and Fluent Bit are not packaged where CI runs, so their configs are checked for
what the engine relies on (topic, JSON encoding, fields the default mapping reads); the
consumer example in docs/interop.md is run against the real local broker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from aiops.model import Alert
from aiops.settings import Settings
from aiops.wire.logmapping import LogFieldMapping
from aiops.wire.shapes import encode_incident
from correlator.engine import TopologyCorrelator
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.topics import Topics

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _engine_settings() -> Settings:
    return Settings.load(DOCS / "aiops.yaml")


def test_vector_config_feeds_the_logs_topic() -> None:
    vector = yaml.safe_load((DOCS / "vector.yaml").read_text())
    sink = vector["sinks"]["aiops_logs"]
    assert sink["type"] == "kafka" and sink["encoding"]["codec"] == "json"
    assert sink["topic"] == _engine_settings().topics.logs
    assert vector["sources"]["k8s"]["type"] == "kubernetes_logs"
    # the record Vector's kubernetes_logs source emits, keyed as the sink says
    record = {"timestamp": "2026-11-23T10:00:00Z", "message": "boom", "level": "error",
              "kubernetes": {"pod_labels": {"app.kubernetes.io/name": "cart"},
                             "pod_namespace": "shop"}}
    mapping = LogFieldMapping.from_config(**_engine_settings().log_mapping.model_dump())
    assert mapping.record(record).service == "cart"
    key_path = sink["key_field"].lstrip(".")
    assert key_path == 'kubernetes.pod_labels."app.kubernetes.io/name"'


def test_fluent_bit_config_feeds_the_logs_topic() -> None:
    text = (DOCS / "fluent-bit.conf").read_text()
    output = text[text.index("[OUTPUT]"):]
    settings = dict(re.findall(r"^\s+(\w+)\s+(.+?)\s*$", output, re.MULTILINE))
    assert settings["Name"] == "kafka" and settings["Format"] == "json"
    assert settings["Topics"] == _engine_settings().topics.logs
    record = {settings["Timestamp_Key"]: "2026-11-23T10:00:00.000000Z", "log": "x",
              "kubernetes": {"labels": {"app": "orders"}, "namespace_name": "shop"}}
    assert LogFieldMapping().record(record).service == "orders"


def _example() -> str:
    text = (DOCS / "interop.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


@pytest.mark.broker
def test_consumer_example_keeps_the_latest_state(kafka: KafkaConfig, topics: Topics) -> None:
    ensure_topics(kafka, topics.specs())
    corr = TopologyCorrelator()
    first = corr.process(Alert({"alertname": "A", "service": "cart"}, {}, starts_at=10.0))[0]
    second = corr.process(Alert({"alertname": "B", "service": "cart"}, {}, starts_at=20.0))[0]
    records = [Record(topics.incidents, i.id.encode(), encode_incident(i))
               for i in (first, second, first)]  # the last one is a stale redelivery
    records.append(Record(topics.incidents, b"x", orjson.dumps({"schema": "aiops.incident/v9",
                                                                "id": "x", "version": 1})))
    EventProducer(kafka).publish(records)

    namespace: dict[str, Any] = {}
    exec(compile(_example(), "docs/interop.md", "exec"), namespace)
    changes: list[dict[str, Any]] = []
    latest = namespace["follow_incidents"](
        kafka.bootstrap_servers, topic=topics.incidents, group_id=f"{topics.incidents}.doc",
        on_change=changes.append, max_messages=4, config={"session.timeout.ms": 6000})
    assert [c["version"] for c in changes] == [1, 2]
    assert latest == {first.id: 2}


def test_collector_config_feeds_the_otlp_topics_and_receivers() -> None:
    collector = yaml.safe_load((DOCS / "otel-collector.yaml").read_text())
    kafka = collector["exporters"]["kafka"]
    topics = _engine_settings().topics
    assert kafka["traces"]["topic"] == topics.otlp_spans
    assert kafka["metrics"]["topic"] == topics.otlp_metrics
    assert kafka["logs"]["topic"] == topics.otlp_logs
    assert {kafka[s]["encoding"] for s in ("traces", "metrics", "logs")} <= {
        "otlp_proto", "otlp_json"}
    http = collector["exporters"]["otlphttp/aiops"]
    # the otlphttp exporter appends /v1/<signal> to the base URL: the engine's routes
    from aiops.api.otlp import router

    paths = {route.path for route in router.routes}  # type: ignore[attr-defined]
    assert {"/v1/traces", "/v1/metrics", "/v1/logs"} <= paths
    assert not http["endpoint"].rstrip("/").endswith("/v1")
    used = {e for p in collector["service"]["pipelines"].values() for e in p["exporters"]}
    assert used <= set(collector["exporters"])
