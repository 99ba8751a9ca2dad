"""Runtime topology updates: small operations with a version, as carried on a topology topic
or posted to the API.

An update is ``{"op": ..., ...}``: ``add_node`` (``name``, ``kind``, ``labels``),
``remove_node`` (``name``), ``add_edge`` / ``remove_edge`` (``source``, ``target``, ``kind``,
``weight``), or ``replace`` (``topology``: a whole document, e.g. a fresh loader snapshot).
Applying one mutates the graph in place and returns its new version, so every holder of the
graph (the correlator) sees it at once and its neighbourhood caches are dropped.
``expected_version`` makes an update conditional (optimistic concurrency for the API).

>>> g = ServiceGraph()
>>> apply_update(g, {"op": "add_edge", "source": "a", "target": "b"})
1
>>> apply_update(g, {"op": "replace", "topology": {"edges": [{"source": "x", "target": "y"}]}})
2
>>> sorted(g)
['x', 'y']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.model import ConfigError, ConflictError
from topology.graph import ServiceGraph

OPS = ("add_node", "remove_node", "add_edge", "remove_edge", "replace")


def replace_graph(graph: ServiceGraph, other: ServiceGraph) -> int:
    """Make ``graph`` equal to ``other`` in place; one version step."""
    version = graph.version
    graph.nx.clear()
    graph.merge(other)
    graph.version = version + 1
    return graph.version


def apply_update(graph: ServiceGraph, update: Mapping[str, Any]) -> int:
    """Apply one update (see the module docstring); returns the graph's new version."""
    op = update.get("op")
    if op not in OPS:
        raise ConfigError(f"unknown topology op {op!r} (one of {', '.join(OPS)})")
    expected = update.get("expected_version")
    if expected is not None and int(expected) != graph.version:
        raise ConflictError("topology", "graph",
                            f"version is {graph.version}, update expected {expected}")
    try:
        if op == "replace":
            return replace_graph(graph, ServiceGraph.from_dict(update.get("topology") or {}))
        if op == "add_node":
            graph.add_node(str(update["name"]), str(update.get("kind", "service")),
                           {str(k): str(v) for k, v in (update.get("labels") or {}).items()})
        elif op == "remove_node":
            graph.remove_node(str(update["name"]))
        elif op == "add_edge":
            graph.add_edge(str(update["source"]), str(update["target"]),
                           str(update.get("kind", "calls")), float(update.get("weight", 1.0)))
        else:
            graph.remove_edge(str(update["source"]), str(update["target"]))
    except KeyError as exc:
        raise ConfigError(f"topology op {op} needs {exc.args[0]!r}") from exc
    return graph.version
