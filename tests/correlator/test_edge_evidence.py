"""Call-edge deviations (a caller's client spans to a callee) count as the callee's
evidence: a slow callee whose own series are quiet is named first when its callers' calls to
it slowed, and its evidence names the edge."""

from __future__ import annotations

import random

from aiops.ingest.red import RedAggregator
from aiops.model import Alert, AlertStatus, MetricSample
from aiops.model.columns import MetricColumns
from aiops.model.deviation import Deviation, family_of
from aiops.wire.otlp.spans import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, DecodedSpans, SpanFact
from correlator.config import CorrelatorConfig
from correlator.diagnosis import DeviationWindow, describe
from correlator.edge_evidence import EDGE_PREFIX, to_callee
from correlator.engine import TopologyCorrelator
from correlator.rank_chain import ChainRanker
from detectors.deviation import DeviationTracker
from topology.graph import ServiceGraph

T0 = 57_000.0  # 15:50 UTC


def _graph() -> ServiceGraph:
    return ServiceGraph.from_edges([("web", "catalog"), ("mobile", "catalog"),
                                    ("web", "checkout"), ("checkout", "pay")])


def _edge(caller: str, callee: str, z: float, since: float, *, value: float = 0.41,
          expected: float = 0.03, name: str = "trace_call_latency_p95_seconds",
          kind: str = "latency") -> Deviation:
    return Deviation(caller, f"{name}{{peer={callee}}}", name, kind, value, expected, z,
                     since, since)


def _own(node: str, z: float, since: float, value: float, expected: float) -> Deviation:
    return Deviation(node, "trace_latency_p95_seconds", "trace_latency_p95_seconds",
                     "latency", value, expected, z, since, since)


def _alert(node: str, start: float) -> Alert:
    return Alert({"alertname": "MetricAnomaly", "service": node,
                  "metric": "trace_latency_p95_seconds"}, {"score": "0.9"}, starts_at=start,
                 status=AlertStatus.FIRING)


def test_edge_latency_and_errors_are_filed_under_the_callee_traffic_stays() -> None:
    w = DeviationWindow()
    w.observe([_edge("web", "catalog", 40.0, T0),
               _edge("mobile", "catalog", 20.0, T0 + 30),
               _edge("web", "catalog", 9.0, T0, name="trace_call_error_ratio", kind="errors",
                     value=0.2, expected=0.0),
               Deviation("web", "trace_call_rate{peer=catalog}", "trace_call_rate", "traffic",
                         0.2, 1.0, -9.0, T0, T0, bad=False)])
    assert [d.family for d in w.of("web")] == ["trace_call_rate{peer=catalog}"]
    latency_web, latency_mobile, errors = w.of("catalog")
    # one family per caller's edge: two slowed callers are two pieces of evidence
    assert (latency_web.family, latency_mobile.family, errors.family) == (
        "trace_call_latency_p95_seconds{caller=web,peer=catalog}",
        "trace_call_latency_p95_seconds{caller=mobile,peer=catalog}",
        "trace_call_error_ratio{caller=web,peer=catalog}")
    assert (latency_web.kind, errors.kind) == ("latency", "errors")
    assert describe(latency_web) == (
        "web -> catalog: latency p95 0.41 s vs 0.03 s expected (13.7x) from 15:50")
    assert describe(errors) == "web -> catalog: error ratio 0.2 vs 0 expected (z +9.0) from 15:50"
    # filed once: a deviation already under its callee, or of any other series, is kept
    assert to_callee(latency_web) == latency_web
    own = _own("catalog", 5.0, T0, 0.05, 0.03)
    assert to_callee(own) is own and describe(own).startswith("catalog: trace_latency")


def test_a_quiet_callee_whose_callers_calls_slowed_is_the_root_cause() -> None:
    """catalog's own series never moved (its time is lost before its handler: a full
    accept queue); both callers' client spans to it slowed, and both callers alerted."""
    def top(edges: list[Deviation]) -> tuple[str, tuple[str, ...]]:
        c = TopologyCorrelator(CorrelatorConfig(confirm_after=0.0), graph=_graph(),
                               ranking=ChainRanker(), deviations=DeviationWindow())
        c.observe([_own("web", 30.0, T0 + 10, 0.5, 0.06),
                   _own("mobile", 25.0, T0 + 20, 0.45, 0.05), *edges])
        c.process(_alert("web", T0 + 10))
        cause = c.process(_alert("mobile", T0 + 20))[-1].root_causes[0]
        return cause.service, cause.evidence

    service, evidence = top([_edge("web", "catalog", 35.0, T0 + 10),
                             _edge("mobile", "catalog", 30.0, T0 + 20)])
    assert service == "catalog"
    assert evidence[0] == (
        "web -> catalog: latency p95 0.41 s vs 0.03 s expected (13.7x) from 15:50")
    assert evidence[1] == "catalog: also mobile -> catalog latency p95"
    assert evidence[2] == "its 2 callers slowed 0 min later: mobile, web"
    # the same deviations read as the caller's own series (filed under the caller, as the
    # detect stage files them): nothing names catalog, and a caller gets the blame
    as_callers = [Deviation(d.node, "client latency", d.series, d.kind, d.value, d.expected,
                            d.z, d.since, d.ts) for d in (_edge("web", "catalog", 35.0, T0 + 10),
                                                          _edge("mobile", "catalog", 30.0,
                                                                T0 + 20))]
    assert top(as_callers)[0] in ("web", "mobile")


def _span(svc: str, sid: int, parent: int, kind: int, end: float, dur: float,
          trace: int) -> SpanFact:
    return SpanFact(svc, {"service": svc}, trace.to_bytes(16, "big"), sid.to_bytes(8, "big"),
                    parent.to_bytes(8, "big") if parent else b"", kind, end - dur, end, False,
                    1.0, "")


def test_the_series_spans_become_are_the_ones_filed_under_the_callee() -> None:
    """Spans -> per-edge series -> deviation tracker -> window: the slowed calls from web
    to catalog end up as catalog's evidence, with catalog's own server spans unchanged."""
    rng = random.Random(3)
    red = RedAggregator(window_s=10.0, grace_s=0.0)
    tracker = DeviationTracker(min_history=24)
    window = DeviationWindow()
    trace = 1
    for step in range(60):
        t = T0 + step * 10.0
        queue = 0.3 if step >= 50 else 0.0  # time lost before catalog's handler
        spans = []
        for i in range(20):
            end = t + 0.4 * i + 0.39
            own = 0.02 + 0.01 * rng.random()
            spans += [_span("web", 3 * trace, 0, SPAN_KIND_SERVER, end, own + queue + 0.01,
                            trace),
                      _span("web", 3 * trace + 1, 3 * trace, SPAN_KIND_CLIENT, end - 0.005,
                            own + queue, trace),
                      _span("catalog", 3 * trace + 2, 3 * trace + 1, SPAN_KIND_SERVER,
                            end - 0.006, own - 0.001, trace)]
            trace += 1
        red.add(DecodedSpans(spans))
        out = red.close(t + 10.0)
        assert all(p.name.startswith(EDGE_PREFIX) == ("peer" in p.labels) for p in out.points)
        window.observe(tracker.process_columns(MetricColumns.from_samples(
            [MetricSample(p.name, p.labels, p.ts, p.value) for p in out.points])))
    latency = family_of("trace_call_latency_p95_seconds", {"service": "web", "peer": "catalog"})
    assert latency == "trace_call_latency_p95_seconds{peer=catalog}"  # as the tracker keys it
    catalog = window.of("catalog")
    assert [d.family for d in catalog] == [
        "trace_call_latency_p95_seconds{caller=web,peer=catalog}"]
    assert catalog[0].since == T0 + 510.0 and catalog[0].value > 0.3
    assert {d.family for d in window.of("web")} == {"trace_latency_p95_seconds"}


def test_the_deviation_window_outlives_a_reload_of_the_incidents() -> None:
    """A stage reloads its incidents from the store on every partition assignment (and
    after a failed batch): the deviations seen so far cannot be reloaded, so they stay."""
    window = DeviationWindow()
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0.0), graph=_graph(),
                           ranking=ChainRanker(), deviations=window)
    c.observe([_edge("web", "catalog", 35.0, T0)])
    c.forget_all()
    assert c.deviations is window and window.of("catalog")
    c.observe([_edge("mobile", "catalog", 30.0, T0)])
    assert len(window.of("catalog")) == 2


def test_a_lone_edge_alert_is_not_supported_by_its_own_deviation() -> None:
    """An alert on a call edge's latency and that series' deviation (filed under the
    callee) are one family: it needs some other deviation around it to be raised."""
    def run(extra: list[Deviation]) -> str:
        c = TopologyCorrelator(CorrelatorConfig(confirm_after=150.0), graph=_graph(),
                               deviations=DeviationWindow())
        c.observe([_edge("web", "catalog", 35.0, T0), *extra])
        c.process(Alert({"alertname": "MetricAnomaly", "service": "web", "peer": "catalog",
                         "metric": "trace_call_latency_p95_seconds", "severity": "warning"},
                        {"score": "0.9"}, starts_at=T0, status=AlertStatus.FIRING))
        return c.tick(T0 + 200)[-1].timeline[-1].event

    assert run([]) == "unsupported"
    assert run([_own("catalog", 9.0, T0 + 30, 0.05, 0.03)]) == "opened"
    assert run([_edge("mobile", "catalog", 20.0, T0)]) == "opened"  # another caller saw it
