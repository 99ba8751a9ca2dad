"""What the incident page draws, checked without a browser."""

from __future__ import annotations

import re

from aiops.console.deps import TopologyView
from aiops.console.views import (
    activity_plots,
    group_by_node,
    neighbourhood,
    nodes_of,
    silence_matchers,
)
from aiops.model import Alert, AlertStatus, Incident, IncidentStatus, RootCause
from correlator.config import Matcher
from topology.graph import ServiceGraph
from topology.mapping import LabelMapper


def _alert(name: str, service: str, start: float, end: float | None = None) -> Alert:
    status = AlertStatus.RESOLVED if end is not None else AlertStatus.FIRING
    return Alert({"alertname": name, "service": service}, {}, start, end, status=status)


def test_activity_plot_counts_firing_alerts_over_time() -> None:
    alerts = [_alert("A", "db", 10.0), _alert("B", "db", 20.0, 40.0), _alert("C", "web", 30.0)]
    node_of = nodes_of(LabelMapper())
    groups = group_by_node(alerts, node_of)
    [plot] = activity_plots(groups, alerts, node_of)
    assert plot["x"] == [10.0, 20.0, 30.0, 40.0]
    series = {s["label"]: s["values"] for s in plot["series"]}
    assert series["db"] == [1.0, 2.0, 2.0, 1.0]  # B resolved at 40
    assert series["web"] == [0.0, 0.0, 1.0, 1.0]


def test_neighbourhood_is_capped_and_keeps_causes_first() -> None:
    edges = [("hub", f"leaf-{i:03d}") for i in range(300)]
    graph = ServiceGraph.from_edges(edges)
    incident = Incident("i", IncidentStatus.OPEN, "t", "critical", 0.0, 0.0, (), ("hub",),
                        root_causes=(RootCause("leaf-299", 0.9), RootCause("hub", 0.5)))
    elements = neighbourhood(incident, ["hub"], graph, max_nodes=20)
    nodes = [e for e in elements if "source" not in e["data"]]
    assert len(nodes) == 20
    assert nodes[0]["data"]["id"] == "leaf-299" and nodes[0]["classes"] == "root"
    assert nodes[1]["classes"] == "candidate affected"
    ids = {n["data"]["id"] for n in nodes}
    assert all(e["data"]["source"] in ids and e["data"]["target"] in ids
               for e in elements if "source" in e["data"])


def test_silence_matchers_match_exactly_the_incident_alerts() -> None:
    alerts = [_alert("Disk.Full", "db-1", 0.0), _alert("Latency(p99)", "web", 0.0)]
    matchers = [Matcher.parse(m) for m in silence_matchers(alerts)]
    for alert in alerts:
        assert all(m.matches(alert.labels) for m in matchers)
    # regex characters in values are escaped: these do not match
    assert not all(m.matches({"alertname": "DiskXFull", "service": "db-1"}) for m in matchers)
    assert not all(m.matches({"alertname": "Latencyp99", "service": "web"}) for m in matchers)
    # without a service label on every alert, no service matcher is offered
    assert all(not re.match("service", m) for m in silence_matchers(
        [Alert({"alertname": "X", "job": "node"}, {}, 0.0)]))


def test_topology_view_applies_the_topic_and_skips_bad_updates(tmp_path: object) -> None:
    history = [b'{"op": "add_edge", "source": "a", "target": "b"}', b"{broken",
               b'{"op": "explode"}', {"op": "add_edge", "source": "b", "target": "c"},
               b'{"op": "remove_node", "name": "a"}']
    graph = TopologyView("", lambda: history).graph()
    assert graph is not None
    assert sorted(graph) == ["b", "c"] and graph.callees("b") == ["c"]
