"""What a ranking derives from one node, or from one pair of nodes, kept between rankings.

An incident is ranked again each time it grows: in a storm one of 1,700 nodes is re-ranked
about ten times, and each time most of its nodes carry the same evidence as the time
before. :class:`RankMemo` keeps, per node, what the strategy derived from that node's
evidence alone (the chain ranking's kind profile, kind onsets and rises) and, per (cause,
effect) pair, how the cause explains the effect; a ranking recomputes only the nodes whose
evidence changed and the pairs that touch them. Nothing is approximated: an entry is used
only while the node's evidence says what it said when the entry was made, on every field
the memoised functions read (:data:`READS`; a deviation seen again with nothing changed
but the time it was last seen counts as the same), and a pair only while both of its
nodes' entries are the ones it was computed from and the ranking's ``context`` (any other
input of the pair function) is equal. A storm refreshes most deviations every batch
without changing them: compared by identity alone, only half the entries were reused.

The memo belongs to one strategy instance (rankings are not re-entrant), is bounded
(entries beyond ``max_nodes`` / ``max_pairs`` start it over) and is not pickled.

>>> from correlator.types import NodeEvidence
>>> memo = RankMemo()
>>> calls = []
>>> def size(e: NodeEvidence) -> int:
...     calls.append(e.node)
...     return len(e.alerts)
>>> ev = {"a": NodeEvidence("a", 1.0, 0.5, alerts={"X"}), "b": NodeEvidence("b", 2.0, 0.5)}
>>> memo.node_facts(ev, size)
({'a': 1, 'b': 0},)
>>> ev["a"].alerts.add("Y")  # evidence changes in place, as an incident's does
>>> memo.node_facts(ev, size), calls
(({'a': 2, 'b': 0},), ['a', 'b', 'a'])
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from aiops.model.deviation import Deviation
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph

PairResult = Any


class _Node:
    """One node's derived values, and what they were derived from (:data:`READS`)."""

    __slots__ = ("alerts", "deviations", "kinds", "onset", "score", "values")

    def __init__(self, ev: NodeEvidence, values: tuple[Any, ...]) -> None:
        self.onset = ev.onset
        self.score = ev.score
        self.kinds = frozenset(ev.kinds)
        self.alerts = frozenset(ev.alerts)
        self.deviations = ev.deviations
        self.values = values

    def holds(self, ev: NodeEvidence) -> bool:
        """Whether ``ev`` says what the evidence these values came from said."""
        if not (self.onset == ev.onset and self.score == ev.score and self.kinds == ev.kinds
                and self.alerts == ev.alerts):
            return False
        mine, theirs = self.deviations, ev.deviations
        if mine is not theirs:
            if len(mine) != len(theirs) or not all(
                    a is b or _same(a, b) for a, b in zip(mine, theirs, strict=True)):
                return False
            self.deviations = theirs  # the newer copy: the next look is by identity
        return True


#: What the memoised per-node functions may read: these fields of the evidence, and every
#: field of its deviations but ``ts`` (when the window last saw the series: a deviation that
#: is seen again, unchanged, is a new object with a new ``ts`` every batch). Any other
#: field may change without the memo noticing; the tests hold the functions to this.
READS = ("onset", "score", "kinds", "alerts", "deviations")


def _same(a: Deviation, b: Deviation) -> bool:
    """``a == b`` but for ``ts``."""
    return (a.value == b.value and a.z == b.z and a.since == b.since and a.family == b.family
            and a.expected == b.expected and a.usual == b.usual and a.rise == b.rise
            and a.bad == b.bad and a.kind == b.kind and a.series == b.series
            and a.node == b.node)


class RankMemo:
    """Per-node and per-pair results of a ranking strategy, valid while the evidence is."""

    def __init__(self, max_nodes: int = 50_000, max_pairs: int = 200_000) -> None:
        self.max_nodes = max_nodes
        self.max_pairs = max_pairs
        self._nodes: dict[str, _Node] = {}
        self._pairs: dict[tuple[str, str], tuple[_Node, _Node, PairResult]] = {}
        self._context: Hashable = None
        self._graph: weakref.ReferenceType[ServiceGraph] | None = None
        self._graph_version = -1
        self._below: dict[tuple[str, int], tuple[str, ...]] = {}
        self.hits = self.misses = 0

    def __getstate__(self) -> dict[str, int]:
        return {"max_nodes": self.max_nodes, "max_pairs": self.max_pairs}

    def __setstate__(self, state: dict[str, int]) -> None:
        self.__init__(state["max_nodes"], state["max_pairs"])  # type: ignore[misc]

    def node_facts(self, evidence: Mapping[str, NodeEvidence],
                   *derive: Callable[[NodeEvidence], Any]) -> tuple[dict[str, Any], ...]:
        """Per function of ``derive``, its value for every node of ``evidence`` (in the
        order of ``evidence``), recomputed only for nodes whose evidence changed since the
        memo last saw them. The values are shared between rankings: read, never change
        them."""
        nodes = self._nodes
        if len(nodes) > self.max_nodes:
            self.clear()
        outs: tuple[dict[str, Any], ...] = tuple({} for _ in derive)
        for name, ev in evidence.items():
            held = nodes.get(name)
            if held is None or not held.holds(ev):
                held = nodes[name] = _Node(ev, tuple(f(ev) for f in derive))
                self.misses += 1
            else:
                self.hits += 1
            for out, value in zip(outs, held.values, strict=True):
                out[name] = value
        return outs

    def begin(self, context: Hashable = None) -> None:
        """Start a ranking whose pair function also reads ``context`` (per-ranking inputs,
        such as a lead time derived from the whole evidence): pairs computed under another
        context are dropped."""
        if context != self._context:
            self._pairs.clear()
            self._context = context

    def pair(self, cause: str, effect: str) -> PairResult | None:
        """The pair's result if both nodes' evidence is the one it was computed from (the
        nodes must have gone through :meth:`node_facts` in this ranking), else None."""
        held = self._pairs.get((cause, effect))
        if held is None:
            return None
        nodes = self._nodes
        if held[0] is not nodes.get(cause) or held[1] is not nodes.get(effect):
            return None
        return held[2]

    def keep_pair(self, cause: str, effect: str, result: PairResult) -> PairResult:
        """Remember ``result`` for the pair, for the nodes' current evidence; returns it."""
        if len(self._pairs) > self.max_pairs:
            self._pairs.clear()
        self._pairs[(cause, effect)] = (self._nodes[cause], self._nodes[effect], result)
        return result

    def below(self, graph: ServiceGraph, name: str, hops: int) -> tuple[str, ...]:
        """``sorted(graph.downstream_within(name, hops))``, kept per topology version."""
        ref = self._graph
        if ref is None or ref() is not graph or self._graph_version != graph.version:
            self._graph = weakref.ref(graph)
            self._graph_version = graph.version
            self._below = {}
        key = (name, hops)
        got = self._below.get(key)
        if got is None:
            if len(self._below) > self.max_nodes:
                self._below = {}
            got = self._below[key] = tuple(sorted(graph.downstream_within(name, hops)))
        return got

    def clear(self) -> None:
        self._nodes.clear()
        self._pairs.clear()
        self._below = {}
