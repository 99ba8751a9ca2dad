"""Everything within k hops of a set of nodes, in one walk.

Diagnosis looks for the deviating nodes that an incident's nodes and their siblings depend
on within six hops. Walked one start at a time (each walk memoised by the topology), a
storm's searches started 12,500 walks from 4,500 distinct nodes and merged their results,
which was a third of the cost of diagnosis on a topology not walked before, and the
memoised six-hop sets held about 780,000 entries. One breadth-first walk from all the starts
together reaches the same nodes (a node is within k hops of one of the starts exactly when
its distance from the set of starts is at most k), visits each of them once and keeps
nothing.

>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("web", "api"), ("api", "db"), ("db", "disk"),
...                              ("mobile", "cache")])
>>> sorted(down_within(g, ["web", "mobile"], 2))
['api', 'cache', 'db', 'mobile', 'web']
>>> sorted(down_within(g, ["nowhere"], 3))
['nowhere']
"""

from __future__ import annotations

from collections.abc import Iterable

from topology.graph import ServiceGraph


def down_within(graph: ServiceGraph, starts: Iterable[str], hops: int) -> set[str]:
    """The union of ``graph.downstream_within(s, hops)`` over ``starts`` (a start that is
    not in the graph reaches only itself), walked level by level from all of them at once."""
    succ = graph.nx._succ  # networkx's raw adjacency: its views build a wrapper per lookup
    seen = set(starts)
    frontier = [n for n in seen if n in succ]
    for _ in range(hops):
        step: set[str] = set()
        for node in frontier:
            step.update(succ[node])
        step -= seen
        if not step:
            break
        seen |= step
        frontier = list(step)
    return seen
