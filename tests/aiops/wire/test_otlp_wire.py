"""The OTLP wire layer against what the real OpenTelemetry SDK encodes."""

from __future__ import annotations

import gzip
import logging
import random
import zlib

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from aiops.ingest.metrics import MetricMapper
from aiops.model import DecodeError
from aiops.wire.otlp import body, logs, metrics, spans, split
from aiops.wire.otlp.attributes import RESOURCE_LABELS
from aiops.wire.otlp.body import Signal, TooLargeError, UnsupportedMediaError
from tests.support.collector import otlp_json, otlp_proto
from tests.support.otel_app import ShopApp, resource


def _shop_request(seed: int = 1, requests: int = 3) -> ExportTraceServiceRequest:
    memory = InMemorySpanExporter()
    app = ShopApp(lambda _service: memory, seed=seed)
    for i in range(requests):
        app.request(1_790_000_000.0 + i)
    app.flush()
    return encode_spans(memory.get_finished_spans())


def test_json_and_protobuf_of_one_request_decode_alike() -> None:
    request = _shop_request()
    from_proto = body.parse(Signal.TRACES, otlp_proto(request), json=False)
    from_json = body.parse(Signal.TRACES, otlp_json(request), json=True)
    assert from_proto == request == from_json
    facts = spans.decode_spans(from_json, RESOURCE_LABELS)
    assert facts.skipped == 0 and len(facts.spans) == 3 * 7  # 4 servers + 3 clients each
    assert set(facts.services) == {"frontend", "cart", "catalog", "db"}
    assert facts.services["cart"]["pod"] == "cart-7d9f"
    kinds = {(f.service, f.kind) for f in facts.spans}
    assert ("cart", spans.SPAN_KIND_CLIENT) in kinds and ("db", spans.SPAN_KIND_SERVER) in kinds


def test_json_converter_agrees_with_the_protobuf_reference() -> None:
    """The descriptor-driven JSON reader against ``google.protobuf.json_format`` on requests
    the SDK encoded: every signal, nested attribute values, exemplars, unknown fields."""
    from google.protobuf import json_format

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], resource=resource("cart"))
    meter = provider.get_meter("shop")
    meter.create_histogram("h", unit="s").record(0.2, {"list": "x", "n": 3})
    meter.create_counter("c").add(2, {"flag": True, "ratio": 0.5})
    metrics_request = _collect(reader)
    trace_request = _shop_request(requests=1)
    span = trace_request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="nested").value.kvlist_value.values.add(
        key="inner").value.array_value.values.add().bytes_value = b"\x00\xff"
    span.links.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8)
    for signal, request in ((Signal.METRICS, metrics_request), (Signal.TRACES, trace_request)):
        doc = orjson.loads(otlp_json(request))
        doc["someFutureField"] = {"x": [1, 2]}
        ours = body.parse(signal, orjson.dumps(doc), json=True)
        reference = type(request)()
        json_format.ParseDict(json_format.MessageToDict(request), reference)
        assert ours == reference == request


def test_sniffing_tells_collector_encodings_apart() -> None:
    request = _shop_request()
    assert body.sniff_json(otlp_json(request)) and not body.sniff_json(otlp_proto(request))
    assert not body.sniff_json(b"")


def test_gzip_limits_and_refusals() -> None:
    data = otlp_proto(_shop_request())
    assert body.decompress(gzip.compress(data), "gzip", len(data)) == data
    assert body.decompress(zlib.compress(data), "deflate", len(data)) == data
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(TooLargeError):
        body.decompress(bomb, "gzip", 1_000_000)
    with pytest.raises(TooLargeError):
        body.decompress(data, "", len(data) - 1)
    with pytest.raises(DecodeError, match="truncated"):
        body.decompress(gzip.compress(data)[:-20], "gzip", 10**7)
    with pytest.raises(DecodeError, match="not valid gzip"):
        body.decompress(b"not gzip at all", "gzip", 10**7)
    with pytest.raises(UnsupportedMediaError):
        body.decompress(data, "br", 10**7)
    with pytest.raises(UnsupportedMediaError):
        body.media_type("text/plain")
    assert body.media_type("application/x-protobuf") == body.PROTOBUF


@pytest.mark.parametrize(("data", "json", "reason"), [
    (b"\x0a\x50\x0a", False, "malformed protobuf"),
    (b"[1, 2]", True, "JSON object"),
    (b"{not json", True, "invalid JSON"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', True, "not hex"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"endTimeUnixNano": "later"}]}]}]}',
     True, "not an OTLP/JSON"),
    (b'{"resourceSpans": "many"}', True, "not an OTLP/JSON"),
])
def test_bad_bodies_are_decode_errors_with_a_reason(data: bytes, json: bool, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        body.parse(Signal.TRACES, data, json=json)


def test_deeply_nested_values_are_refused_not_crashing() -> None:
    value = '{"stringValue": "x"}'
    for _ in range(250):  # within orjson's nesting limit, past Python's recursion limit
        value = '{"kvlistValue": {"values": [{"key": "k", "value": ' + value + "}]}}"
    doc = ('{"resourceSpans": [{"resource": {"attributes": [{"key": "deep", "value": '
           + value + "}]}}]}").encode()
    with pytest.raises(DecodeError):
        body.parse(Signal.TRACES, doc, json=True)


def test_corrupted_protobuf_raises_decode_errors_only() -> None:
    base = otlp_proto(_shop_request(requests=2))
    rng = random.Random(5)
    refused = 0
    for _ in range(1500):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        try:
            request = body.parse(Signal.TRACES, bytes(data), json=False)
            spans.decode_spans(request, RESOURCE_LABELS)
        except DecodeError:
            refused += 1
    assert refused > 100


def test_sampling_weights() -> None:
    assert spans.adjusted_count("ot=th:c", {}) == pytest.approx(4.0)  # rejects 3/4
    assert spans.adjusted_count("ot=th:0", {}) == 1.0
    assert spans.adjusted_count("ot=p:3", {}) == 8.0
    assert spans.adjusted_count("ot=p:63", {}) == 1.0  # zero probability: not a ratio
    assert spans.adjusted_count("", {"sampling.ratio": 0.25}) == 4.0
    assert spans.adjusted_count("", {"SampleRate": 20}) == 20.0
    assert spans.adjusted_count("ot=th:zz", {"sampling.probability": 0.5}) == 2.0
    assert spans.adjusted_count("", {"sampling.probability": 0}) == 1.0


def _collect(reader: InMemoryMetricReader):  # type: ignore[no-untyped-def]
    data = reader.get_metrics_data()
    assert data is not None
    return encode_metrics(data)


def test_sdk_metrics_become_typed_engine_series() -> None:
    reader = InMemoryMetricReader()
    views = [View(instrument_name="queue.wait",
                  aggregation=ExponentialBucketHistogramAggregation())]
    provider = MeterProvider(metric_readers=[reader], resource=resource("cart"), views=views)
    meter = provider.get_meter("shop")
    requests = meter.create_counter("http.server.requests", unit="{request}")
    inflight = meter.create_up_down_counter("http.server.active_requests")
    duration = meter.create_histogram("http.server.request.duration", unit="s")
    wait = meter.create_histogram("queue.wait", unit="ms")
    meter.create_observable_gauge("system.cpu.utilization", unit="1",
                                  callbacks=[lambda _o: [_obs(0.42)]])
    mapper = MetricMapper()

    def collect() -> list:  # type: ignore[type-arg]
        decoded = metrics.decode_metrics(_collect(reader), RESOURCE_LABELS)
        return mapper.map_numbers(decoded.numbers) + mapper.map_distributions(
            decoded.distributions)

    requests.add(5, {"http.route": "/cart"})
    inflight.add(3)
    for v in (0.01, 0.02, 0.03):
        duration.record(v, {"http.route": "/cart"})
        wait.record(v * 1000)
    first = {p.name: p for p in collect()}
    assert first["http_server_requests_total"].type == "counter"
    assert first["http_server_requests_total"].value == 5
    assert first["http_server_requests_total"].labels["http_route"] == "/cart"
    assert first["http_server_requests_total"].labels["pod"] == "cart-7d9f"
    assert first["http_server_active_requests"].type == "gauge"
    assert first["system_cpu_utilization_ratio"].value == pytest.approx(0.42)
    # cumulative histograms: the first point only sets the baseline
    assert not any(name.endswith("_p95") for name in first)
    for _ in range(90):
        duration.record(0.01, {"http.route": "/cart"})
        wait.record(10.0)
    for _ in range(10):
        duration.record(2.0, {"http.route": "/cart"})  # the slow tail of this interval
        wait.record(2000.0)
    second = {p.name: p for p in collect()}
    p95 = second["http_server_request_duration_seconds_p95"]
    assert p95.type == "gauge" and 0.5 < p95.value <= 2.0  # the tail, not the 10 ms body
    assert second["http_server_request_duration_seconds_count_per_second"].value > 0
    assert 500 < second["queue_wait_milliseconds_p95"].value <= 2100  # exponential buckets


def _obs(value: float):  # type: ignore[no-untyped-def]
    from opentelemetry.metrics import Observation

    return Observation(value)


def test_delta_temporality_becomes_rates_directly() -> None:
    reader = InMemoryMetricReader(preferred_temporality={
        Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
        UpDownCounter: AggregationTemporality.DELTA})
    provider = MeterProvider(metric_readers=[reader], resource=resource("db"))
    meter = provider.get_meter("shop")
    meter.create_counter("db.queries").add(40)
    meter.create_histogram("db.query.duration", unit="ms").record(12.0)
    decoded = metrics.decode_metrics(_collect(reader), RESOURCE_LABELS)
    mapper = MetricMapper()
    points = {p.name: p for p in mapper.map_numbers(decoded.numbers)
              + mapper.map_distributions(decoded.distributions)}
    rate = points["db_queries_per_second"]
    assert rate.type == "gauge" and rate.value > 0
    assert "db_queries_total" not in points
    assert points["db_query_duration_milliseconds_p95"].value == pytest.approx(12.0, rel=0.5)


def test_sdk_logs_keep_severity_service_and_resource_labels() -> None:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource("cart"))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = logging.getLogger("shop.cart.test")
    logger.propagate = False
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.error("payment backend timed out after %d ms", 3000)
        logger.warning("retrying")
        logger.info("ok")
    finally:
        logger.removeHandler(handler)
    provider.force_flush()
    request = encode_logs(memory.get_finished_logs())
    decoded = logs.decode_logs(body.parse(Signal.LOGS, otlp_json(request), json=True),
                               RESOURCE_LABELS)
    assert [(r.level, r.message) for r in decoded.records] == [
        ("error", "payment backend timed out after 3000 ms"), ("warning", "retrying"),
        ("info", "ok")]
    assert all(r.service == "cart" and r.labels["pod"] == "cart-7d9f" for r in decoded.records)
    assert decoded.records[0].ts > 1.7e9


def test_split_keeps_every_span_under_the_limit() -> None:
    request = _shop_request(requests=40)
    parts = list(split.split_request(Signal.TRACES, request, limit=4000))
    assert len(parts) > 4 and all(len(data) <= 4000 for _, data in parts)
    seen = []
    for service, data in parts:
        part = ExportTraceServiceRequest.FromString(data)
        for rs in part.resource_spans:
            assert split.service_name(rs.resource) == service
            seen += [s.span_id for ss in rs.scope_spans for s in ss.spans]
    original = [s.span_id for rs in request.resource_spans for ss in rs.scope_spans
                for s in ss.spans]
    assert sorted(seen) == sorted(original)
    whole = list(split.split_request(Signal.TRACES, request))
    assert sorted(k for k, _ in whole) == ["cart", "catalog", "db", "frontend"]


def test_invalid_items_are_counted_for_partial_success() -> None:
    request = _shop_request(requests=1)
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"short"
    total, bad, reason = split.invalid_items(Signal.TRACES, request)
    assert (total, bad) == (7, 1) and "span_id" in reason


def test_span_kind_client_tracer_records_peer() -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource("web"))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span(
            "call", kind=SpanKind.CLIENT, attributes={"peer.service": "cart"}):
        pass
    facts = spans.decode_spans(encode_spans(memory.get_finished_spans()), RESOURCE_LABELS)
    assert facts.spans[0].peer == "cart" and facts.spans[0].kind == spans.SPAN_KIND_CLIENT


def test_summaries_staleness_and_non_finite_points() -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "db"
    sm = rm.scope_metrics.add()
    summary = sm.metrics.add(name="rpc.duration", unit="ms").summary
    for ts, count, p95 in ((10, 100, 40.0), (20, 150, 90.0)):
        point = summary.data_points.add(start_time_unix_nano=1, time_unix_nano=ts * 10**9,
                                        count=count, sum=count * 10.0)
        point.quantile_values.add(quantile=0.5, value=10.0)
        point.quantile_values.add(quantile=0.99, value=p95 * 2)
        point.quantile_values.add(quantile=0.95, value=p95)
    gauge = sm.metrics.add(name="queue.depth").gauge
    gauge.data_points.add(time_unix_nano=10**10, as_double=float("nan"))
    gauge.data_points.add(time_unix_nano=10**10, as_int=3, flags=metrics.NO_RECORDED_VALUE)
    gauge.data_points.add(time_unix_nano=10**10, as_int=4)
    decoded = metrics.decode_metrics(request, RESOURCE_LABELS)
    assert decoded.skipped == 2
    mapper = MetricMapper()
    points = mapper.map_numbers(decoded.numbers) + mapper.map_distributions(
        decoded.distributions)
    assert [(p.name, p.value) for p in points] == [
        ("queue_depth", 4.0), ("rpc_duration_milliseconds_p95", 90.0),
        ("rpc_duration_milliseconds_count_per_second", 5.0)]
