"""Diagnosis over deviation summaries: the window, the widened evidence, the engine hook,
the chain ranking's explanation and the noise controls that use the same evidence."""

from __future__ import annotations

from aiops.model import Alert, AlertStatus
from aiops.model.deviation import Deviation
from correlator.config import CorrelatorConfig
from correlator.diagnosis import DeviationWindow, diagnose
from correlator.engine import TopologyCorrelator
from correlator.rank_chain import ChainRanker
from correlator.rank_deepest import DeepestRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph

T0 = 57_000.0  # 15:50 UTC


def _graph() -> ServiceGraph:
    return ServiceGraph.from_edges([
        ("web", "checkout"), ("web", "catalog"), ("mobile", "catalog"), ("checkout", "pay"),
        ("catalog", "db"), ("web", "catalog-lb")])


def _dev(node: str, z: float, since: float, ts: float | None = None, *,
         family: str = "latency", kind: str = "latency", value: float = 0.41,
         expected: float = 0.03, bad: bool = True) -> Deviation:
    return Deviation(node, family, f"{family} p95", kind, value, expected, z, since,
                     since if ts is None else ts, bad=bad)


def _alert(node: str, start: float, metric: str = "latency", stat: str = "p95",
           firing: bool = True) -> Alert:
    return Alert({"alertname": "MetricAnomaly", "service": node, "metric": metric,
                  "statistic": stat}, {"score": "0.9"}, starts_at=start,
                 status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
                 ends_at=None if firing else start + 30)


def test_window_keeps_peak_and_first_move_per_family_and_forgets_old_ones() -> None:
    w = DeviationWindow(horizon=600.0)
    w.observe([_dev("db", 10.0, T0), _dev("db", 40.0, T0, T0 + 60),
               _dev("db", 5.0, T0, T0 + 120, family="cpu", kind="saturation")])
    latency, cpu = w.of("db")
    assert (latency.z, latency.since, cpu.family) == (40.0, T0, "cpu")
    assert w.of("db", lo=T0 + 200) == ()  # nothing live that late
    w.expire(T0 + 700)
    assert len(w) == 1 and [d.family for d in w.of("db")] == ["cpu"]
    w.expire(T0 + 10_000)
    assert not w and w.nodes() == []


def test_window_is_bounded_whatever_arrives() -> None:
    w = DeviationWindow(horizon=1e9, max_entries=100)
    w.observe(_dev(f"n{i}", 5.0, T0 + i) for i in range(1000))
    assert len(w) <= 100
    assert w.of("n999") and not w.of("n0")  # the stalest went first


def test_diagnose_brings_in_quiet_dependencies_and_their_callers() -> None:
    w = DeviationWindow()
    w.observe([_dev("catalog", 40.0, T0), _dev("mobile", 8.0, T0 + 60),
               _dev("pay", 9.0, T0 - 5000)])  # pay moved long before: outside the look
    ev = diagnose({"web": NodeEvidence("web", T0 + 90, 0.9, alerts={"A"})}, _graph(), w,
                  at=T0 + 90)
    assert sorted(ev) == ["catalog", "mobile", "web"]
    assert ev["catalog"].alerts == set() and ev["catalog"].onset == T0
    assert ev["catalog"].deviations[0].value == 0.41


def test_a_quiet_slow_callee_is_named_before_its_alerting_callers() -> None:
    """The issue's case: a delay in a catalogue service was blamed on its caller, whose
    latency alerted while the callee never crossed a threshold."""
    g = _graph()
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0.0), graph=g,
                           ranking=ChainRanker(), deviations=DeviationWindow())
    c.observe([_dev("catalog", 40.0, T0), _dev("web", 25.0, T0 + 60, value=1.1,
                                               expected=0.2),
               _dev("mobile", 12.0, T0 + 120, value=0.9, expected=0.1),
               _dev("catalog-lb", 30.0, T0 + 60)])
    inc = c.process(_alert("web", T0 + 60))[-1]
    top = inc.root_causes[0]
    assert top.service == "catalog"
    assert top.evidence[0] == "catalog: latency p95 0.41 vs 0.03 expected (13.7x) from 15:50"
    # its load balancer (a leaf only web reaches) moved with it: a view of the same call
    assert top.evidence[1] == "its 3 dependents slowed 1-2 min later: catalog-lb, mobile, web"
    # the same incident, ranked on its alerts alone, blames the caller
    plain = TopologyCorrelator(CorrelatorConfig(confirm_after=0.0), graph=g,
                               ranking=ChainRanker())
    assert plain.process(_alert("web", T0 + 60))[-1].root_causes[0].service == "web"


def test_evidence_is_kept_current_as_deviations_arrive() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0.0, rank_interval=60.0),
                           graph=_graph(), ranking=ChainRanker(),
                           deviations=DeviationWindow())
    c.observe([_dev("web", 25.0, T0)])
    first = c.process(_alert("web", T0))[-1]
    assert first.root_causes[0].service == "web"
    assert c.tick(T0 + 30) == []  # nothing new
    c.observe([_dev("catalog", 60.0, T0 - 30, T0 + 60)])
    assert c.tick(T0 + 40) == []  # re-ranked at most once a minute
    later = c.tick(T0 + 90)
    assert [i.id for i in later] == [first.id]
    assert later[0].root_causes[0].service == "catalog" and later[0].version > first.version
    assert later[0].timeline[-1].event == "reranked"


def test_rule_baseline_prefers_nodes_with_quiet_callees() -> None:
    ev = {n: NodeEvidence(n, T0, 0.5, deviations=(_dev(n, z, T0),))
          for n, z in [("web", 90.0), ("catalog", 10.0), ("catalog-lb", 50.0)]}
    assert [r.service for r in DeepestRanker().rank(ev, _graph())] == [
        "catalog-lb", "catalog", "web"]


def test_percentiles_of_one_latency_do_not_corroborate_each_other() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=150.0), graph=_graph())
    out = c.process(_alert("web", T0, stat="p50")) + c.process(_alert("web", T0, stat="p99"))
    assert all(i.status.value == "pending" for i in out)
    raised = c.process(_alert("web", T0 + 10, metric="errors", stat="Sum"))[-1]
    assert raised.status.value == "open"


def test_a_lone_symptom_without_support_is_not_raised() -> None:
    def run(extra: list[Deviation]) -> str:
        c = TopologyCorrelator(CorrelatorConfig(confirm_after=150.0), graph=_graph(),
                               deviations=DeviationWindow())
        c.observe([_dev("web", 12.0, T0), *extra])
        c.process(_alert("web", T0))
        return c.tick(T0 + 200)[-1].timeline[-1].event

    assert run([]) == "unsupported"
    # a neighbour that deviates too, or another family of the node, is support
    assert run([_dev("catalog", 9.0, T0 + 30)]) == "opened"
    assert run([_dev("web", 9.0, T0, family="errors", kind="errors")]) == "opened"
    # a harmless move (traffic) is not
    assert run([_dev("catalog", 9.0, T0, family="requests", kind="traffic",
                     bad=False)]) == "unsupported"


def test_a_new_run_of_a_family_replaces_the_old_one() -> None:
    w = DeviationWindow()
    w.observe([_dev("db", 40.0, T0 - 1200, T0 - 1140)])  # an earlier blip, now over
    w.observe([_dev("db", 9.0, T0, T0), _dev("db", 12.0, T0, T0 + 60)])
    (latest,) = w.of("db")
    assert (latest.since, latest.z) == (T0, 12.0)


def test_an_outage_alert_explains_what_depends_on_it() -> None:
    g = ServiceGraph.from_edges([("web", "api"), ("api", "host-0")])
    ev = {"host-0": NodeEvidence("host-0", T0, 1.0, kinds={"availability"},
                                 alerts={"HostDown"}),
          "api": NodeEvidence("api", T0 + 30, 0.9, alerts={"A"},
                              deviations=(_dev("api", 60.0, T0 + 30),)),
          "web": NodeEvidence("web", T0 + 60, 0.9, alerts={"A"},
                              deviations=(_dev("web", 30.0, T0 + 60),))}
    assert [r.service for r in ChainRanker().rank(ev, g)][:2] == ["host-0", "api"]


def test_a_family_run_that_starts_as_another_statistic_ends_is_the_same_episode() -> None:
    w = DeviationWindow()
    w.observe([_dev("db", 160.0, T0, T0 + 300)])  # its p99, first moved at T0
    w.observe([_dev("db", 4.3, T0 + 600, T0 + 600)])  # then its p90, as the p99 came back
    (held,) = w.of("db")
    assert (held.z, held.since) == (160.0, T0)


def test_a_callee_explains_a_slow_caller_only_if_it_gained_a_share_of_its_latency() -> None:
    """At a coarse resolution a delayed service and its database both move in the same
    interval; a database 3 ms slower (a big z on a flat series) does not explain a caller
    500 ms slower, and one that slowed as much does."""
    g = ServiceGraph.from_edges([("web", "pay"), ("pay", "db")])

    def rank(db_value: float) -> list[str]:
        ev = {"web": NodeEvidence("web", T0, 0.9, alerts={"A"}, deviations=(
                  _dev("web", 20.0, T0, value=0.8, expected=0.3),)),
              "pay": NodeEvidence("pay", T0, 0.9, alerts={"A"}, deviations=(
                  _dev("pay", 30.0, T0, value=0.7, expected=0.2),)),
              "db": NodeEvidence("db", T0, 0.0, deviations=(
                  _dev("db", 80.0, T0, value=db_value, expected=0.004),))}
        return [r.service for r in ChainRanker().rank(ev, g)]

    assert rank(0.007)[0] == "pay"
    assert rank(0.45)[0] == "db"


def test_a_routine_move_of_a_neighbour_is_no_support() -> None:
    def run(usual: float) -> str:
        c = TopologyCorrelator(CorrelatorConfig(confirm_after=150.0), graph=_graph(),
                               deviations=DeviationWindow())
        near = Deviation("catalog", "latency", "latency p99", "latency", 0.41, 0.03, 9.0,
                         T0 + 30, T0 + 30, usual=usual)
        c.observe([_dev("web", 12.0, T0), near])
        c.process(_alert("web", T0))
        return c.tick(T0 + 200)[-1].timeline[-1].event

    assert run(usual=0.0) == "opened"  # no usual excursion known: a move is a move
    assert run(usual=0.5) == "unsupported"  # it strays that far every day
    assert run(usual=0.1) == "opened"
