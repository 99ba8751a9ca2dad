"""The OTLP/HTTP receivers on the real local broker: records as the Collector writes them,
the specification's answers (200 + partial success, 400, 401, 413, 415, 503 + Retry-After)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aiops.app import Engine
from aiops.settings import Settings
from aiops.wire.otlp.split import service_name
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics
from tests.support.collector import otlp_json, otlp_proto
from tests.support.kafka import read_topic
from tests.support.otel_app import ShopApp

PROTO = {"content-type": "application/x-protobuf", "authorization": "Bearer s3cret"}
JSON = {"content-type": "application/json", "authorization": "Bearer s3cret"}


def otlp_topics(settings: Settings, topics: Topics) -> None:
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq", "deviations"):
        setattr(settings.topics, name, getattr(topics, name))
    prefix = topics.metrics.removesuffix(".metrics")
    settings.topics.topology = f"{prefix}.topology"
    settings.topics.otlp_metrics = f"{prefix}.otlp_metrics"
    settings.topics.otlp_logs = f"{prefix}.otlp_logs"
    settings.topics.otlp_spans = f"{prefix}.otlp_spans"


@pytest.fixture
def engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[Engine]:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    otlp_topics(settings, topics)
    settings.api.bearer_token = "s3cret"
    settings.api.max_body_bytes = 256 * 1024
    settings.api.max_decoded_bytes = 1024 * 1024
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    yield eng


def shop_spans(requests: int = 2) -> ExportTraceServiceRequest:
    memory = InMemorySpanExporter()
    app = ShopApp(lambda _service: memory)
    for i in range(requests):
        app.request(1_790_000_000.0 + i)
    app.flush()
    return encode_spans(memory.get_finished_spans())


@pytest.mark.broker
def test_spans_land_on_the_spans_topic_per_service(engine: Engine) -> None:
    client = TestClient(engine.api())
    request = shop_spans()
    answer = client.post("/v1/traces", content=otlp_proto(request), headers=PROTO)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-protobuf"
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert not response.HasField("partial_success")
    records = read_topic(engine.kafka, engine.topics.otlp_spans, expect=4)
    assert sorted(key for key, _ in records) == [b"cart", b"catalog", b"db", b"frontend"]
    for key, value in records:
        part = ExportTraceServiceRequest.FromString(value)  # the Collector's otlp_proto
        assert {service_name(rs.resource) for rs in part.resource_spans} == {key.decode()}
    total = sum(len(ss.spans) for _, v in records
                for rs in ExportTraceServiceRequest.FromString(v).resource_spans
                for ss in rs.scope_spans)
    assert total == 14
    assert 'aiops_receiver_items_total{receiver="otlp_traces"} 14.0' in client.get("/metrics").text


@pytest.mark.broker
def test_gzip_json_and_partial_success(engine: Engine) -> None:
    client = TestClient(engine.api())
    request = shop_spans(1)
    request.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 0
    answer = client.post("/v1/traces", content=gzip.compress(otlp_json(request)),
                         headers={**JSON, "content-encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "end time" in partial["errorMessage"]


@pytest.mark.broker
def test_an_item_too_large_for_kafka_is_rejected_and_the_rest_kept(engine: Engine) -> None:
    engine.settings.api.max_decoded_bytes = 4 * 1024 * 1024
    client = TestClient(engine.api())
    request = shop_spans(1)
    huge = request.resource_spans[0].scope_spans[0].spans[0]
    huge.attributes.add(key="db.statement").value.string_value = "x" * 1_200_000
    answer = client.post("/v1/traces", content=gzip.compress(otlp_proto(request)),
                         headers={**PROTO, "content-encoding": "gzip"})
    assert answer.status_code == 200, answer.text
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert partial.rejected_spans == 1 and "cannot be put on Kafka" in partial.error_message
    records = read_topic(engine.kafka, engine.topics.otlp_spans, expect=100, timeout=6)
    kept = sum(len(ss.spans) for _, v in records
               for rs in ExportTraceServiceRequest.FromString(v).resource_spans
               for ss in rs.scope_spans)
    assert kept == 6


@pytest.mark.broker
def test_refusals_follow_the_specification(engine: Engine) -> None:
    client = TestClient(engine.api())
    good = otlp_proto(shop_spans(1))
    no_auth = client.post("/v1/traces", content=good,
                          headers={"content-type": "application/x-protobuf"})
    assert no_auth.status_code == 401
    truncated = client.post("/v1/traces", content=good[: len(good) // 2], headers=PROTO)
    assert truncated.status_code == 400
    assert truncated.content[:2] == b"\x08\x03" and b"malformed protobuf" in truncated.content
    bad_json = client.post("/v1/logs", content=b'{"resourceLogs": 5}', headers=JSON)
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 3
    assert "not an OTLP/JSON logs request" in bad_json.json()["message"]
    wrong_type = client.post("/v1/metrics", content=good,
                             headers={**PROTO, "content-type": "text/plain"})
    assert wrong_type.status_code == 415 and b"content-type" in wrong_type.content
    wrong_encoding = client.post("/v1/traces", content=good,
                                 headers={**PROTO, "content-encoding": "br"})
    assert wrong_encoding.status_code == 415
    oversize = client.post("/v1/traces", content=b"\0" * (300 * 1024), headers=PROTO)
    assert oversize.status_code == 413
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 256 * 1024
    exploded = client.post("/v1/traces", content=bomb,
                           headers={**PROTO, "content-encoding": "gzip"})
    assert exploded.status_code == 413 and b"decompresses" in exploded.content
    assert client.post("/v1/traces", content=good, headers=PROTO).status_code == 200
    text = client.get("/metrics").text
    assert 'aiops_receiver_rejected_total{code="413",receiver="otlp_traces"} 2.0' in text


@pytest.mark.broker
def test_503_with_retry_after_when_the_broker_does_not_acknowledge(engine: Engine) -> None:
    dead = EventProducer(KafkaConfig(bootstrap_servers="127.0.0.1:1"),
                         overrides={"message.timeout.ms": 1500, "log_level": 0})
    engine.settings.api.publish_timeout_s = 1.0
    client = TestClient(engine.api(producer=dead))
    answer = client.post("/v1/traces", content=otlp_json(shop_spans(1)), headers=JSON)
    assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0
    assert orjson.loads(answer.content)["code"] == 14
