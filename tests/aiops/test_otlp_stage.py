"""The OTLP ingest stage and the span aggregation, on SDK-made spans without a broker."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aiops.ingest.metrics
import aiops.ingest.red
import aiops.ingest.series
from aiops.ingest.red import RedAggregator
from aiops.stages.otlp import OtlpIngestStage
from aiops.wire.otlp.spans import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, DecodedSpans, SpanFact
from streams.stage import Incoming
from streams.topics import Topics
from tests.support.collector import otlp_json, otlp_proto
from tests.support.otel_app import Fault, ShopApp

T0 = 1_790_000_000.0


def _span(service: str, sid: bytes, parent: bytes, kind: int, end: float, duration: float,
          *, error: bool = False, weight: float = 1.0, trace: bytes = b"t" * 16) -> SpanFact:
    return SpanFact(service, {"service": service}, trace, sid * 8, parent * 8 if parent else b"",
                    kind, end - duration, end, error, weight, "")


def _points(out: aiops.ingest.red.RedOutput) -> dict[tuple[str, str, str], float]:
    return {(p.name, p.labels["service"], p.labels.get("peer", "")): p.value for p in out.points}


def test_rates_errors_and_latency_are_weighted_by_sampling() -> None:
    red = RedAggregator(window_s=10, grace_s=0)
    spans = [_span("cart", bytes([i]), b"", SPAN_KIND_SERVER, T0 + 1 + i * 0.1, 0.01 * (i + 1),
                   error=i == 0, weight=4.0, trace=bytes([i]) * 16) for i in range(5)]
    red.add(DecodedSpans(spans))
    points = _points(red.close(T0 + 20))
    assert points[("trace_request_rate", "cart", "")] == pytest.approx(5 * 4 / 10)
    assert points[("trace_error_ratio", "cart", "")] == pytest.approx(0.2)
    assert points[("trace_latency_p95_seconds", "cart", "")] == pytest.approx(0.05)


def test_client_spans_find_their_callee_through_the_child_span_even_when_it_comes_first() -> None:
    red = RedAggregator(window_s=10, grace_s=5)
    # the callee's server span ends (and is exported) before the caller's client span
    red.add(DecodedSpans([_span("db", b"s", b"c", SPAN_KIND_SERVER, T0 + 2.0, 0.5)]))
    red.add(DecodedSpans([_span("cart", b"c", b"r", SPAN_KIND_CLIENT, T0 + 2.1, 0.7,
                                error=True)]))
    out = red.close(T0 + 16)
    points = _points(out)
    assert points[("trace_call_rate", "cart", "db")] == pytest.approx(0.1)
    assert points[("trace_call_error_ratio", "cart", "db")] == 1.0
    assert points[("trace_call_latency_p95_seconds", "cart", "db")] == pytest.approx(0.7)
    assert out.updates == [{"op": "add_edge", "source": "cart", "target": "db",
                            "kind": "calls", "origin": "traces", "ts": T0 + 10}]


def test_edges_expire_and_silent_services_report_zero_requests() -> None:
    red = RedAggregator(window_s=10, grace_s=0, edge_ttl_s=60)
    red.add(DecodedSpans([_span("web", b"a", b"", SPAN_KIND_SERVER, T0 + 1, 0.1),
                          _span("cart", b"b", b"a", SPAN_KIND_SERVER, T0 + 1, 0.05)]))
    first = red.close(T0 + 10)
    assert [u["op"] for u in first.updates] == ["add_edge"]
    assert red.live_edges() == [("web", "cart")]
    # only web keeps serving (root spans); cart is silent
    for k in range(1, 9):
        red.add(DecodedSpans([_span("web", bytes([k]), b"", SPAN_KIND_SERVER, T0 + 10 * k + 1,
                                    0.1, trace=bytes([k]) * 16)]))
    later = red.close(T0 + 90)
    assert ("trace_request_rate", "cart", "") in _points(later)
    zeros = [p for p in later.points if p.name == "trace_request_rate"
             and p.labels["service"] == "cart"]
    assert zeros and all(p.value == 0.0 for p in zeros)
    removed = [u for u in later.updates if u["op"] == "remove_edge"]
    assert [(u["source"], u["target"], u["origin"]) for u in removed] == [
        ("web", "cart", "traces")]
    assert red.live_edges() == []


def test_a_restarted_stage_still_expires_the_edges_it_announced() -> None:
    topics = Topics()
    announced = [orjson.dumps({"op": "add_edge", "source": "web", "target": "cart",
                               "kind": "calls", "origin": "traces", "ts": T0}),
                 orjson.dumps({"op": "add_edge", "source": "a", "target": "b"}),  # by hand
                 orjson.dumps({"op": "add_edge", "source": "x", "target": "y",
                               "origin": "traces", "ts": T0}),
                 orjson.dumps({"op": "remove_edge", "source": "x", "target": "y",
                               "origin": "traces", "ts": T0 + 5}),
                 b"not json"]
    red = RedAggregator(window_s=10, grace_s=0, edge_ttl_s=60)
    stage = OtlpIngestStage(topics, red=red, topology_history=lambda: announced)
    assert stage.start() == []
    assert red.live_edges() == [("web", "cart")]
    red.add(DecodedSpans([_span("web", b"a", b"", SPAN_KIND_SERVER, T0 + 200, 0.1)]))
    removed = [u for u in red.close(T0 + 300).updates if u["op"] == "remove_edge"]
    assert [(u["source"], u["target"]) for u in removed] == [("web", "cart")]


def test_spans_of_closed_windows_are_dropped_and_counted() -> None:
    red = RedAggregator(window_s=10, grace_s=0)
    red.add(DecodedSpans([_span("web", b"a", b"", SPAN_KIND_SERVER, T0 + 25, 0.1)]))
    red.close()
    red.add(DecodedSpans([_span("web", b"b", b"", SPAN_KIND_SERVER, T0 + 5, 0.1)]))
    assert red.late == 1
    assert red.close(T0 + 100).points  # the window of T0 + 25 is emitted, nothing else


def _shop_records(topics: Topics, fault: Fault | None = None) -> list[Incoming]:
    memory = InMemorySpanExporter()
    app = ShopApp(lambda _s: memory)
    app.traffic(T0, 60, 2.0, fault)
    app.flush()
    request = encode_spans(memory.get_finished_spans())
    return [Incoming(topics.otlp_spans, otlp_proto(request)),
            Incoming(topics.otlp_spans, otlp_json(request))]


def test_stage_maps_both_encodings_alike_and_dead_letters_the_rest() -> None:
    topics = Topics()
    proto, as_json = _shop_records(topics)

    def run(message: Incoming) -> list[tuple[str, str, float]]:
        stage = OtlpIngestStage(topics, red=RedAggregator(window_s=10, grace_s=0))
        outputs = stage.handle([message]).outputs + stage.idle(10**10)
        series = [s for r in outputs if r.topic == topics.metrics
                  for s in orjson.loads(r.value)["series"]]
        return sorted((s["name"], s["labels"]["service"], sum(s["values"])) for s in series)

    assert run(proto) == run(as_json) != []
    stage = OtlpIngestStage(topics, max_record_bytes=1000)
    result = stage.handle([Incoming(topics.otlp_logs, b"\x0a\xff"), proto,
                           Incoming("elsewhere", b"{}")])
    reasons = [d.reason for d in result.dead]
    assert len(reasons) == 3
    assert "malformed protobuf" in reasons[0] and "over 1000" in reasons[1]
    assert "not an OTLP topic" in reasons[2]


def test_idle_closes_the_last_windows_by_wall_time() -> None:
    topics = Topics()
    clock = [T0 + 100.0]
    stage = OtlpIngestStage(topics, red=RedAggregator(window_s=10, grace_s=10),
                            wall_clock=lambda: clock[0])
    result = stage.handle(_shop_records(topics)[:1])
    held = [r for r in result.outputs if r.topic == topics.metrics]
    late = stage.idle(T0 + 100.0 + 60.0)
    assert late and all(r.topic in (topics.metrics, topics.topology) for r in late)
    names = {s["name"] for r in late if r.topic == topics.metrics
             for s in orjson.loads(r.value)["series"]}
    assert "trace_request_rate" in names
    assert held  # windows well before the newest span were emitted with the batch


def test_spans_from_a_broken_clock_do_not_close_the_windows_early() -> None:
    topics = Topics()
    now = 1_800_000_000.0
    red = RedAggregator(window_s=10, grace_s=10)
    stage = OtlpIngestStage(topics, red=red, wall_clock=lambda: now)
    memory = InMemorySpanExporter()
    app = ShopApp(lambda _s: memory)
    app.request(now + 86_400 * 365)  # a year ahead
    app.request(now - 30)
    app.flush()
    stage.handle([Incoming(topics.otlp_spans, otlp_proto(encode_spans(
        memory.get_finished_spans())))])
    assert stage.skipped == 7  # the future request's spans
    assert red.clock is not None and red.clock < now
    memory.clear()
    app.request(now - 25)  # still counted: its window is open
    app.flush()
    stage.handle([Incoming(topics.otlp_spans, otlp_proto(encode_spans(
        memory.get_finished_spans())))])
    assert red.late == 0


def test_a_stale_topology_files_edges_give_way_to_what_traces_show() -> None:
    red = RedAggregator(window_s=10, grace_s=0, edge_ttl_s=60,
                        file_edges=[("web", "cart"), ("web", "legacy"), ("batch", "db")])
    for k in range(10):  # web calls cart every window, never legacy; batch is not traced
        trace = bytes([k]) * 16
        red.add(DecodedSpans([
            _span("web", b"a", b"", SPAN_KIND_SERVER, T0 + 10 * k + 1, 0.1, trace=trace),
            _span("cart", b"b", b"a", SPAN_KIND_SERVER, T0 + 10 * k + 1, 0.05, trace=trace)]))
    updates = red.close(T0 + 200).updates
    # web -> cart is in the graph already (the file): confirmed, not announced again
    assert [(u["op"], u["source"], u["target"]) for u in updates] == [
        ("remove_edge", "web", "legacy")]
    assert red.live_edges() == [("web", "cart")]


def test_the_engine_builds_the_stage_with_the_topology_files_edges(tmp_path: Path) -> None:
    from aiops.app import Engine
    from aiops.settings import Settings

    topology = tmp_path / "topology.yaml"
    topology.write_text("edges:\n  - {source: frontend, target: cart}\n"
                        "  - {source: frontend, target: legacy}\n")
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    settings.correlation.topology_file = str(topology)
    settings.otlp.edge_ttl_s = 30.0
    settings.otlp.span_grace_s = 0.0
    stage = Engine.build(settings, "").stage("otlp")
    memory = InMemorySpanExporter()
    app = ShopApp(lambda _s: memory)
    app.traffic(T0, 120, 2.0)
    app.flush()
    result = stage.handle([Incoming(settings.topics.otlp_spans, otlp_proto(encode_spans(
        memory.get_finished_spans())))])
    updates = [orjson.loads(r.value) for r in result.outputs if r.topic.endswith("topology")]
    assert [(u["op"], u["source"], u["target"]) for u in updates if u["op"] == "remove_edge"] \
        == [("remove_edge", "frontend", "legacy")]
    added = {(u["source"], u["target"]) for u in updates if u["op"] == "add_edge"}
    assert added == {("frontend", "catalog"), ("cart", "db")}  # frontend -> cart: in the file
