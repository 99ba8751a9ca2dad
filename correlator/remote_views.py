"""Remote views: a caller's view of a call that the topology shows as a node of its own.

Topologies built from client spans (X-Ray, OpenTelemetry service graphs) often show, beside a
service, the caller's view of the endpoint in front of it: a load balancer or a proxy named
after its address (``servi-searc...elb.amazonaws.com``), a leaf that only that caller reaches,
with no edge to the service behind it. When the service slows or fails, its view does too, at
the same time and by about as much, and as a leaf with no deviating callee it looks like a
root cause as good as the service; the two tie on every signal.

The rule: a leaf with one caller is a *view* of a remote endpoint; a sibling (another callee
of that caller) that has callers or callees of its own is a *service*; a service that moved
the way its sibling view did may be what is behind it, so the ranking lets the service
explain the view as a callee explains its caller (with the same timing and share rules).
A real fault of the endpoint (a database, an external API) moves its view alone: no sibling
service moves with it, and nothing changes.

>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("site", "search"), ("site", "lb-search"),
...                              ("client", "search"), ("search", "db"), ("site", "db2")])
>>> sorted(behind_views(g, ["lb-search", "search", "db", "db2"]).items())
[('db2', ['search']), ('lb-search', ['search'])]
"""

from __future__ import annotations

from collections.abc import Iterable

from topology.graph import ServiceGraph


def is_view(graph: ServiceGraph, node: str) -> bool:
    """A leaf that exactly one caller reaches."""
    return node in graph and not graph.callees(node) and len(graph.callers(node)) == 1


def behind_views(graph: ServiceGraph, nodes: Iterable[str]) -> dict[str, list[str]]:
    """For each view among ``nodes``: the services among ``nodes`` beside it (other callees
    of its caller that are not views themselves), which may be behind it."""
    present = set(nodes)
    out: dict[str, list[str]] = {}
    for node in sorted(present):
        if not is_view(graph, node):
            continue
        caller = graph.callers(node)[0]
        services = sorted(s for s in graph.callees(caller)
                          if s != node and s in present and not is_view(graph, s))
        if services:
            out[node] = services
    return out
