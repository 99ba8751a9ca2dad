"""The chain ranking's rules on real-data shapes: a remote view beside its service, a callee
that accounts for its caller's whole rise, a cover that counts the share it explains, and
a standing condition older than one interval of the data."""

from __future__ import annotations

from aiops.model.deviation import Deviation
from correlator.rank_chain import ChainRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph

T0 = 60_000.0


def _dev(node: str, z: float, since: float, *, value: float, expected: float,
         kind: str = "latency", family: str = "latency", rise: float = 0.0) -> Deviation:
    return Deviation(node, family, f"{family} p99", kind, value, expected, z, since,
                     since + 600.0, rise=rise)


def _ev(node: str, *devs: Deviation, alerting: bool = False) -> NodeEvidence:
    return NodeEvidence(node, min(d.since for d in devs), 0.9,
                        alerts={"MetricAnomaly"} if alerting else set(),
                        kinds={"symptom"}, deviations=tuple(devs))


def _top(evidence: dict[str, NodeEvidence], graph: ServiceGraph) -> list[str]:
    return [c.service for c in ChainRanker().rank(evidence, graph)]


def test_a_service_ranks_above_the_load_balancer_view_beside_it() -> None:
    """The front end reaches the search service directly and through its load balancer,
    which the topology shows as a leaf of its own; both slow by a second at once, the view a
    little stronger by z. The service also has a caller of its own: it is the cause."""
    g = ServiceGraph.from_edges([("site", "search"), ("site", "lb-search"),
                                 ("client", "search"), ("search", "table")])
    ev = {"site": _ev("site", _dev("site", 20.0, T0 + 300, value=1.3, expected=0.3),
                      alerting=True),
          "lb-search": _ev("lb-search", _dev("lb-search", 150.0, T0, value=1.0,
                                             expected=0.02), alerting=True),
          "search": _ev("search", _dev("search", 140.0, T0, value=1.0, expected=0.05),
                        alerting=True)}
    assert _top(ev, g)[:2] == ["search", "lb-search"]
    # a view that moves alone is a cause like any leaf: nothing beside it explains it
    alone = {n: e for n, e in ev.items() if n != "search"}
    assert _top(alone, g)[0] == "lb-search"


def test_a_callee_that_accounts_for_its_callers_rise_ranks_above_it() -> None:
    """A table whose p99 rose 9.8 s under a service whose p99 rose 10 s: the service is far
    stronger by z, but the table accounts for nearly all of its rise."""
    g = ServiceGraph.from_edges([("site", "search"), ("search", "table")])
    ev = {"site": _ev("site", _dev("site", 30.0, T0, value=10.3, expected=0.3, rise=10.0),
                      alerting=True),
          "search": _ev("search", _dev("search", 1000.0, T0, value=10.1, expected=0.05,
                                       rise=10.0), alerting=True),
          "table": _ev("table", _dev("table", 20.0, T0, value=0.29, expected=0.014,
                                     rise=9.8), alerting=True)}
    assert _top(ev, g)[0] == "table"


def test_a_cause_covers_only_the_share_of_a_node_it_explains() -> None:
    """A database explains a service's slower answers, but the service's failures (its
    strongest signal) nothing explains: the service is named, not the database."""
    g = ServiceGraph.from_edges([("site", "pay"), ("pay", "db"), ("pay", "ext")])
    ev = {"site": _ev("site", _dev("site", 6.0, T0 + 300, value=97.9, expected=100.0,
                                   kind="errors", family="availability"),
                      _dev("site", 5.0, T0 + 300, value=0.5, expected=0.3, rise=0.2),
                      alerting=True),
          "pay": _ev("pay", _dev("pay", 78.0, T0 + 300, value=92.0, expected=100.0,
                                 kind="errors", family="availability"),
                     _dev("pay", 8.0, T0 + 300, value=1.0, expected=0.36, rise=0.64),
                     alerting=True),
          "db": _ev("db", _dev("db", 12.0, T0 + 300, value=0.09, expected=0.013,
                               rise=0.08))}
    assert _top(ev, g)[0] == "pay"


def test_a_condition_older_than_one_interval_ages() -> None:
    """Five-minute data: a leaf that moved two intervals before the incident's newest
    symptom is aging; the equally strong leaf that moved with the symptom is named."""
    g = ServiceGraph.from_edges([("site", "a"), ("site", "b")])
    ev = {"site": _ev("site", _dev("site", 20.0, T0 + 600, value=0.9, expected=0.3),
                      alerting=True),
          "a": _ev("a", _dev("a", 60.0, T0, value=2.0, expected=0.4)),
          "b": _ev("b", _dev("b", 60.0, T0 + 600, value=2.0, expected=0.4),
                   _dev("b", 60.0, T0 + 300, value=2.0, expected=0.4, family="latency2"))}
    assert _top(ev, g)[0] == "b"
    # with a grace of two intervals nothing ages: the one that moved first leads
    assert ChainRanker(grace=600.0).rank(ev, g)[0].service == "a"
