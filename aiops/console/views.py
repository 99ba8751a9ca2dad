"""What the incident page shows, computed from an incident and the service graph.

Plain functions from domain objects to plain dicts, so the templates only lay them out and
the tests can check them without a browser. Everything is capped (alerts per node, graph
nodes, plot points), so a page about an incident of ten thousand alerts stays small.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiops.model import Alert, Incident, RootCause
from topology.graph import ServiceGraph
from topology.mapping import LabelMapper


class IncidentLike(Protocol):
    """What the overlay reads: an :class:`Incident` or a list row of one."""

    @property
    def id(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def services(self) -> tuple[str, ...]: ...
    @property
    def root_causes(self) -> tuple[RootCause, ...]: ...


#: Member alerts listed per node; the rest are counted.
ALERTS_PER_NODE = 25
#: Nodes drawn around an incident (its own nodes first, then neighbours).
MAX_GRAPH_NODES = 80
#: Points of one plotted series.
MAX_POINTS = 400
#: Plots on one incident page.
MAX_PLOTS = 6


@dataclass
class NodeGroup:
    """Member alerts about one node of the graph."""

    node: str
    count: int = 0
    firing: int = 0
    alerts: list[Alert] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.alerts)


NodeOf = Callable[[Alert], str]


def nodes_of(mapper: LabelMapper) -> NodeOf:
    """The node of an alert as the correlator maps it, remembered per fingerprint: a page
    asks for each alert's node several times (groups, plots)."""
    known: dict[str, str] = {}

    def node(alert: Alert) -> str:
        found = known.get(alert.fingerprint)
        if found is None:
            found = known[alert.fingerprint] = mapper.node_for(alert.labels)
        return found

    return node


def group_by_node(alerts: Iterable[Alert], node_of: NodeOf,
                  per_node: int = ALERTS_PER_NODE) -> list[NodeGroup]:
    """Alerts by the node the correlator maps them to, busiest node first.

    >>> a = Alert({"alertname": "A", "service": "db"}, {}, 1.0)
    >>> b = Alert({"alertname": "B", "service": "web"}, {}, 2.0)
    >>> c = Alert({"alertname": "C", "service": "db"}, {}, 3.0)
    >>> [(g.node, g.count) for g in group_by_node([a, b, c], nodes_of(LabelMapper()))]
    [('db', 2), ('web', 1)]
    """
    groups: dict[str, NodeGroup] = {}
    for alert in alerts:
        node = node_of(alert)
        group = groups.get(node)
        if group is None:
            group = groups[node] = NodeGroup(node)
        group.count += 1
        group.firing += alert.firing
        if len(group.alerts) < per_node:
            group.alerts.append(alert)
    return sorted(groups.values(), key=lambda g: (-g.count, g.node))


def _node_element(name: str, graph: ServiceGraph | None, classes: str,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    kind = graph.kind(name) if graph is not None and name in graph else "service"
    return {"data": {"id": name, "label": name, "kind": kind, **(extra or {})},
            "classes": classes}


def neighbourhood(incident: Incident, nodes: Sequence[str], graph: ServiceGraph | None,
                  max_nodes: int = MAX_GRAPH_NODES) -> list[dict[str, Any]]:
    """Cytoscape elements for the incident's nodes, their direct neighbours and the edges
    between them; the top root cause has class ``root``, other candidates ``candidate``,
    nodes with member alerts ``affected``.

    >>> g = ServiceGraph.from_edges([("web", "db"), ("db", "disk")])
    >>> inc = Incident("i", "open", "t", "critical", 0, 0, (), ("db",))
    >>> els = neighbourhood(inc, ["db"], g)
    >>> sorted(e["data"]["id"] for e in els if "source" not in e["data"])
    ['db', 'disk', 'web']
    """
    causes = [c.service for c in incident.root_causes]
    root = causes[0] if causes else None
    chosen: list[str] = []
    seen: set[str] = set()

    def take(name: str) -> None:
        if name not in seen and len(chosen) < max_nodes:
            seen.add(name)
            chosen.append(name)

    for name in (*causes, *nodes):
        take(name)
    if graph is not None:
        for name in list(chosen):
            if name in graph:
                for other in sorted({*graph.callers(name), *graph.callees(name)}):
                    take(other)
    affected = set(nodes)
    elements: list[dict[str, Any]] = []
    for name in chosen:
        marks = ["root" if name == root else "candidate" if name in causes else ""]
        marks.append("affected" if name in affected else "" if marks[0] else "neighbour")
        elements.append(_node_element(name, graph, " ".join(m for m in marks if m)))
    elements.extend(_edges(graph, seen))
    return elements


def _edges(graph: ServiceGraph | None, among: set[str]) -> list[dict[str, Any]]:
    if graph is None:
        return []
    return [{"data": {"id": f"{e.source}->{e.target}", "source": e.source,
                      "target": e.target, "kind": e.kind}}
            for e in graph.edges() if e.source in among and e.target in among]


def graph_overlay(graph: ServiceGraph | None, incidents: Iterable[IncidentLike]
                  ) -> list[dict[str, Any]]:
    """The whole service graph, each node marked with the worst live incident on it (class
    ``sev-critical``/``sev-warning``/``sev-info``, and ``root`` where it is a top cause)."""
    rank = {"critical": 3, "error": 3, "warning": 2, "info": 1}
    worst: dict[str, str] = {}
    where: dict[str, str] = {}
    roots: set[str] = set()
    for incident in incidents:
        for name in incident.services:
            if rank.get(incident.severity, 1) > rank.get(worst.get(name, ""), 0):
                worst[name] = incident.severity
                where[name] = incident.id
        if incident.root_causes:
            roots.add(incident.root_causes[0].service)
    names = list(graph) if graph is not None else []
    names.extend(sorted(n for n in {*worst, *roots} if graph is None or n not in graph))
    elements = []
    for name in names:
        classes = []
        if name in worst:
            classes.append(f"sev-{worst[name] if worst[name] in rank else 'info'}")
        if name in roots:
            classes.append("root")
        elements.append(_node_element(name, graph, " ".join(classes),
                                      {"incident": where.get(name, "")}))
    elements.extend(_edges(graph, set(names)))
    return elements


# ---------------------------------------------------------------------------- plots

def _number(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value == value else None  # NaN is no point


def _thin(points: list[tuple[float, ...]]) -> list[tuple[float, ...]]:
    if len(points) <= MAX_POINTS:
        return points
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS)]


def detector_plots(alerts: Iterable[Alert], node_of: NodeOf) -> list[dict[str, Any]]:
    """The deviating values the detectors reported (annotations ``value``,
    ``expected_low``, ``expected_high``), one plot per node and metric."""
    series: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    for alert in alerts:
        value = _number(alert.annotations.get("value"))
        metric = alert.annotations.get("metric") or alert.labels.get("metric")
        if value is None or not metric:
            continue
        low = _number(alert.annotations.get("expected_low"))
        high = _number(alert.annotations.get("expected_high"))
        series[(node_of(alert), metric)].append(
            (alert.starts_at, value, low if low is not None else float("nan"),
             high if high is not None else float("nan")))
    plots = []
    for (node, metric), points in sorted(series.items(), key=lambda kv: -len(kv[1])):
        points = _thin(sorted(points))
        plots.append(plot(f"{metric} on {node}", [p[0] for p in points], [
            ("value", [p[1] for p in points]),
            ("expected low", [p[2] for p in points]),
            ("expected high", [p[3] for p in points]),
        ]))
    return plots


def activity_plots(groups: Sequence[NodeGroup], alerts: Iterable[Alert], node_of: NodeOf,
                   nodes: int = 4) -> list[dict[str, Any]]:
    """Firing member alerts over time on the busiest nodes: when each node began to
    deviate, relative to the others, is what the ranking weighs."""
    wanted = {g.node for g in groups[:nodes]}
    changes: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for alert in alerts:
        node = node_of(alert)
        if node in wanted:
            changes[node].append((alert.starts_at, 1))
            if alert.ends_at is not None and not alert.firing:
                changes[node].append((alert.ends_at, -1))
    times = sorted({t for events in changes.values() for t, _ in events})
    if not times:
        return []
    index = {t: i for i, t in enumerate(times)}
    columns = []
    for node in sorted(wanted, key=lambda n: (-len(changes[n]), n)):
        deltas = [0] * len(times)
        for t, d in changes[node]:
            deltas[index[t]] += d
        running, column = 0, []
        for d in deltas:
            running += d
            column.append(float(running))
        columns.append((node, column))
    points = _thin([(t, *(c[i] for _, c in columns)) for i, t in enumerate(times)])
    return [plot("firing alerts per node", [p[0] for p in points],
                 [(name, [p[i + 1] for p in points]) for i, (name, _) in enumerate(columns)],
                 step=True)]


def plot(title: str, x: Sequence[float], series: Sequence[tuple[str, Sequence[float]]],
         *, step: bool = False) -> dict[str, Any]:
    """The generic plot the page draws with uPlot: ``x`` in epoch seconds, one list of
    values per series (``None`` for a gap); any evidence that is a time series fits it."""
    def clean(values: Sequence[float]) -> list[float | None]:
        return [v if v == v else None for v in values]

    return {"title": title, "x": list(x), "step": step,
            "series": [{"label": label, "values": clean(values)} for label, values in series]}


def incident_plots(incident: Incident, groups: Sequence[NodeGroup], node_of: NodeOf
                   ) -> list[dict[str, Any]]:
    """Every plot the incident's stored evidence allows, most telling first."""
    return (detector_plots(incident.alerts, node_of)
            + activity_plots(groups, incident.alerts, node_of))[:MAX_PLOTS]


# ---------------------------------------------------------------------------- silences

def _alternatives(values: set[str]) -> str:
    if len(values) == 1:
        return "=" + _quoted(next(iter(values)))
    return "=~" + _quoted("|".join(re.escape(v) for v in sorted(values)))


def _quoted(value: str) -> str:
    """The engine's matcher parser takes what is between the quotes as it is (no escapes),
    so a regex's backslashes go in unchanged."""
    return '"' + value + '"'


def silence_matchers(alerts: Iterable[Alert], limit: int = 50) -> list[str]:
    """Matchers that cover an incident's alerts: their alert names and services.

    >>> silence_matchers([Alert({"alertname": "A", "service": "db"}, {}, 1.0),
    ...                   Alert({"alertname": "B", "service": "db"}, {}, 1.0)])
    ['alertname=~"A|B"', 'service="db"']
    """
    names: set[str] = set()
    services: set[str] = set()
    for alert in alerts:
        if alert.name:
            names.add(alert.name)
        services.add(alert.labels.get("service", ""))
    out = []
    if names and len(names) <= limit:
        out.append("alertname" + _alternatives(names))
    if services and len(services) <= limit and "" not in services:
        out.append("service" + _alternatives(services))
    return out
