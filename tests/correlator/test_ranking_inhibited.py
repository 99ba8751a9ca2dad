"""Inhibited nodes are never candidates, but their evidence still points at what absorbed
them: a host under its pods and their services."""

from __future__ import annotations

from correlator.ranking import CompositeRanker, PageRankRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


def _host_incident() -> tuple[dict[str, NodeEvidence], ServiceGraph]:
    g = ServiceGraph.from_edges([("web", "api")])
    g.add_node("host-1", "host")
    g.add_node("api-0", "pod")
    g.add_edge("api", "api-0", "depends-on")
    g.add_edge("api-0", "host-1", "runs-on")
    ev = {
        "host-1": NodeEvidence("host-1", 100, 10.0, kinds={"availability"},
                               alerts={"HostDown"}),
        "api-0": NodeEvidence("api-0", 100, 10.0, kinds={"availability"},
                              alerts={"PodNotReady"}, inhibited=True),
        "api": NodeEvidence("api", 110, 50.0, kinds={"symptom"}, alerts={"HighErrorRate"},
                            inhibited=True),
        "web": NodeEvidence("web", 130, 50.0, kinds={"symptom"}, alerts={"HighErrorRate"}),
    }
    return ev, g


def test_pagerank_walks_through_inhibited_nodes_but_never_names_them() -> None:
    ev, g = _host_incident()
    pr = PageRankRanker(max_hops=2).scores(ev, g)
    assert set(pr) == {"host-1", "web"}
    assert pr["host-1"] > pr["web"]  # web's mass reaches the host through api and its pod


def test_composite_names_the_host_above_a_louder_symptom_far_above_it() -> None:
    ev, g = _host_incident()
    ranked = CompositeRanker().rank(ev, g)
    assert [rc.service for rc in ranked] == ["host-1", "web"]
