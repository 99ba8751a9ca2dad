"""OpenTelemetry end to end on the real broker: a small shop instrumented with the real
OpenTelemetry SDK sends its traces, metrics and logs with the SDK's OTLP/HTTP exporters to
the engine's API (and, as the Collector's Kafka exporter would, to the OTLP topics); the
engine maps them, draws the service graph from the spans, and a latency fault injected in
one service opens an incident whose top root cause is that service."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from confluent_kafka import Consumer
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aiops.app import STAGES, Engine, Workers
from aiops.settings import Settings
from aiops.wire.shapes import decode_alert, decode_incident
from streams.kafka import KafkaConfig
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.aiops.test_otlp_receiver import otlp_topics
from tests.support.collector import otlp_json, otlp_proto
from tests.support.otel_app import Fault, ShopApp, resource
from tests.support.polling import eventually

pytestmark = pytest.mark.broker

TOKEN = "s3cret"
T0 = 1_790_000_000.0
BASELINE_S = 25 * 60.0
FAULT_S = 150.0
STEP_S = 10.0
DB_FAULT = Fault("db", extra_ms=60.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Tail:
    """Everything a topic holds, read by a consumer of its own in the background."""

    def __init__(self, config: KafkaConfig, topic: str) -> None:
        self.messages: list[tuple[bytes | None, bytes]] = []
        self._consumer = Consumer(config.consumer(f"tail-{uuid.uuid4().hex[:8]}"))
        self._consumer.subscribe([topic])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._consumer.consume(1000, 0.3):
                if msg.error() is None:
                    self.messages.append((msg.key(), msg.value() or b""))

    def values(self) -> list[Any]:
        return [orjson.loads(v) for _, v in list(self.messages)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _settings(tmp_path: Path, topics: Topics, broker: str) -> Settings:
    settings = Settings.load(None)
    settings.kafka.bootstrap_servers = broker
    settings.kafka.group_prefix = topics.metrics  # consumer groups unique to the test
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    otlp_topics(settings, topics)
    settings.api.bearer_token = TOKEN
    settings.api.port = _free_port()
    # Exporters of four services flush one after another, into three partitions: a minute
    # of grace keeps every span of a window in it, however the partitions interleave.
    settings.otlp.span_grace_s = 60.0
    return settings


@dataclass
class Live:
    engine: Engine
    url: str
    tails: dict[str, Tail]

    def series(self, name: str) -> list[dict[str, Any]]:
        return [s for doc in self.tails["metrics"].values() for s in doc.get("series", [])
                if s["name"] == name]

    def alerts(self) -> list[Any]:
        return [decode_alert(v) for _, v in list(self.tails["alerts"].messages)]


@pytest.fixture
def live(tmp_path: Path, topics: Topics, broker: str) -> Iterator[Live]:
    settings = _settings(tmp_path, topics, broker)
    engine = Engine.build(settings, broker)
    engine.ensure_topics()
    workers = Workers([engine.runner(name) for name in STAGES])
    workers.start()
    server = uvicorn.Server(uvicorn.Config(engine.api(), host="127.0.0.1",
                                           port=settings.api.port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="api", daemon=True)
    thread.start()
    t = engine.topics
    tails = {name: Tail(engine.kafka, topic) for name, topic in (
        ("metrics", t.metrics), ("logs", t.logs), ("alerts", t.alerts),
        ("incidents", t.incidents), ("topology", t.topology), ("dlq", t.dlq))}
    try:
        assert workers.wait_ready(60), "stages did not join their consumer groups"
        assert eventually(lambda: server.started, 20)
        yield Live(engine, f"http://127.0.0.1:{settings.api.port}", tails)
    finally:
        for tail in tails.values():
            tail.close()
        server.should_exit = True
        thread.join(10)
        workers.stop()
    assert not workers.errors


def _run_shop(app: ShopApp, send: Callable[[], None] = lambda: None,
              fault: Fault = DB_FAULT) -> None:
    """Baseline traffic, then ``fault`` (default: 60 ms of latency in ``db``), in steps of
    event time."""
    t = T0
    while t < T0 + BASELINE_S + FAULT_S:
        app.traffic(t, STEP_S, 1.0, fault if t >= T0 + BASELINE_S else None)
        app.flush()
        send()
        t += STEP_S


def _assert_fault_found(live: Live) -> None:
    topology = eventually(lambda: {(u["source"], u["target"]) for u in
                                   live.tails["topology"].values() if u["op"] == "add_edge"}
                          >= {("frontend", "cart"), ("cart", "db"), ("frontend", "catalog")}
                          and live.tails["topology"].values(), 60)
    assert all(u["origin"] == "traces" for u in topology)
    db_alerts = eventually(lambda: [a for a in live.alerts() if a.labels.get("service") == "db"
                                    and a.status.value == "firing"], 90)
    assert db_alerts, [dict(a.labels) for a in live.alerts()]
    assert db_alerts[0].labels["metric"] == "trace_latency_p95_seconds"
    assert db_alerts[0].starts_at >= T0 + BASELINE_S  # nothing fired before the fault
    assert all(a.starts_at >= T0 + BASELINE_S for a in live.alerts())


def test_sdk_exports_over_otlp_http_reach_detection_and_root_cause(live: Live) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    app = ShopApp(lambda service: OTLPSpanExporter(
        endpoint=f"{live.url}/v1/traces", headers=auth,
        compression=Compression.Gzip if service in ("cart", "db") else Compression.NoCompression))
    try:
        _run_shop(app)
    finally:
        app.shutdown()
    _assert_fault_found(live)
    rates = live.series("trace_request_rate")
    assert {s["labels"]["service"] for s in rates} == {"frontend", "cart", "catalog", "db"}
    assert all(s["type"] == "gauge" and s["labels"]["namespace"] == "shop" for s in rates)
    edge = live.series("trace_call_latency_p95_seconds")
    assert {(s["labels"]["service"], s["labels"]["peer"]) for s in edge} == {
        ("frontend", "cart"), ("cart", "db"), ("frontend", "catalog")}
    # the incident names the service the fault was injected in as its top root cause
    incidents = eventually(lambda: [i for i in (decode_incident(v) for _, v in
                                                list(live.tails["incidents"].messages))
                                    if i.root_causes], 90)
    assert incidents, "no incident with root causes"
    assert incidents[-1].root_causes[0].service == "db", incidents[-1].root_causes


def test_a_callee_slow_only_in_its_callers_client_spans_is_the_root_cause(
        live: Live) -> None:
    """60 ms lost in front of ``catalog``'s handler: its own server spans stay as they were
    and only ``frontend``'s client spans to it slow down. The call edge's latency counts as
    catalog's evidence, so catalog, which never alerts, is the top root cause of
    frontend's incident, and the evidence names the edge."""
    auth = {"authorization": f"Bearer {TOKEN}"}
    app = ShopApp(lambda _service: OTLPSpanExporter(endpoint=f"{live.url}/v1/traces",
                                                    headers=auth), seed=5)
    try:
        _run_shop(app, fault=Fault("catalog", queue_ms=60.0))
    finally:
        app.shutdown()
    # ranked on its alerts when it opens, on its neighbourhood's deviations once they are in
    def ranked() -> list[Any]:
        incidents = [decode_incident(v) for _, v in list(live.tails["incidents"].messages)]
        return [i for i in incidents if i.root_causes and i.root_causes[0].evidence
                and " expected (" in i.root_causes[0].evidence[0]]

    incidents = eventually(ranked, 90)
    assert incidents, "no incident ranked on its neighbourhood's deviations"
    alerting = {a.labels.get("service") for a in live.alerts()}
    assert "frontend" in alerting and "catalog" not in alerting, alerting
    top = incidents[-1].root_causes[0]
    assert top.service == "catalog", incidents[-1].root_causes
    assert top.evidence[0].startswith("frontend -> catalog: latency p95 0."), top.evidence
    assert " s expected (" in top.evidence[0], top.evidence


def test_sdk_metrics_and_logs_over_otlp_http(live: Live) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{live.url}/v1/metrics", headers=auth),
        export_interval_millis=3_600_000)
    meters = MeterProvider(metric_readers=[reader], resource=resource("cart"))
    meter = meters.get_meter("shop")
    requests = meter.create_counter("http.server.requests", unit="{request}")
    duration = meter.create_histogram("http.server.request.duration", unit="s")
    for _ in range(2):  # two exports: a cumulative histogram needs two for an interval
        for i in range(50):
            requests.add(1, {"http.route": "/cart"})
            duration.record(0.01 * (1 + i % 5), {"http.route": "/cart"})
        assert meters.force_flush(10_000)
    meters.shutdown()
    logs = LoggerProvider(resource=resource("cart"))
    logs.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(
        endpoint=f"{live.url}/v1/logs", headers=auth, compression=Compression.Gzip)))
    logger = logging.getLogger(f"shop.cart.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.addHandler(LoggingHandler(logger_provider=logs))
    logger.error("payment backend timed out after %d ms", 3000)
    assert logs.force_flush(10_000)
    logs.shutdown()

    counter = eventually(lambda: live.series("http_server_requests_total"), 30)
    assert counter and counter[0]["type"] == "counter"
    assert counter[-1]["values"][-1] == 100.0 and counter[0]["labels"]["pod"] == "cart-7d9f"
    p95 = eventually(lambda: live.series("http_server_request_duration_seconds_p95"), 30)
    assert p95 and p95[0]["type"] == "gauge" and 0.03 <= p95[0]["values"][0] <= 0.05
    records = eventually(lambda: [r for doc in live.tails["logs"].values()
                                  for r in doc["records"]], 30)
    assert [(r["service"], r["level"], r["message"]) for r in records] == [
        ("cart", "error", "payment backend timed out after 3000 ms")]
    assert records[0]["labels"]["host"] == "node-1"


def test_collector_kafka_records_in_both_encodings_and_dead_letters(live: Live) -> None:
    """What the Collector's Kafka exporter writes: one Export*ServiceRequest per record,
    otlp_proto or otlp_json; records that are not OTLP go to the dead letters."""
    memory = InMemorySpanExporter()
    app = ShopApp(memory_exporter(memory), seed=11, peer_attribute=True)
    producer = EventProducer(live.engine.kafka)
    topics = live.engine.topics
    step = {"n": 0}

    def send() -> None:
        request = encode_spans(memory.get_finished_spans())
        memory.clear()
        step["n"] += 1
        encode = otlp_json if step["n"] % 2 else otlp_proto
        producer.publish([Record(topics.otlp_spans, None, encode(request))], 10)

    _run_shop(app, send)
    app.shutdown()
    log_memory = InMemoryLogRecordExporter()
    logs = LoggerProvider(resource=resource("db"))
    logs.add_log_record_processor(SimpleLogRecordProcessor(log_memory))
    logs.get_logger("db").emit(body="connection pool exhausted", severity_text="ERROR",
                               timestamp=time.time_ns())
    request = encode_logs(log_memory.get_finished_logs())
    producer.publish([
        Record(topics.otlp_logs, None, otlp_json(request)),
        Record(topics.otlp_logs, None, b"\x0a\xff\xff"),                     # truncated
        Record(topics.otlp_metrics, None, b'{"resourceMetrics": "none"}'),   # not OTLP
        Record(topics.otlp_spans, None, b"{broken json"),
    ], 10)
    _assert_fault_found(live)
    records = eventually(lambda: [r for doc in live.tails["logs"].values()
                                  for r in doc["records"]], 30)
    assert [(r["service"], r["level"], r["message"]) for r in records] == [
        ("db", "error", "connection pool exhausted")]
    dead = eventually(lambda: len(live.tails["dlq"].values()) >= 3
                      and live.tails["dlq"].values(), 30)
    reasons = sorted(d["reason"] for d in dead)
    assert len(reasons) == 3, reasons
    assert any("malformed protobuf" in r for r in reasons)
    assert any("not an OTLP/JSON metrics request" in r for r in reasons)
    assert any("invalid JSON" in r for r in reasons)
    assert all(d["stage"] == "otlp" for d in dead)


def memory_exporter(memory: InMemorySpanExporter) -> Callable[[str], InMemorySpanExporter]:
    return lambda _service: memory
