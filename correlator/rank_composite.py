"""Ranking strategy ``composite``: a weighted blend of explanation coverage, graph position
(PageRank), anomaly score and an alert-class prior, with human-readable evidence for every
candidate. The default when only alerts are known."""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from aiops.model import RootCause
from correlator.pairs import DependencyPairs
from correlator.rank_common import _basic_evidence, _candidates
from correlator.rank_pagerank import PageRankRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph

#: Prior belief that an alert class points at a cause rather than an effect.
DEFAULT_KIND_PRIOR: dict[str, float] = {
    "change": 1.0, "availability": 0.9, "resource": 0.8, "symptom": 0.4,
}


def explained_by(cand: NodeEvidence, evidence: Mapping[str, NodeEvidence],
                 graph: ServiceGraph | None, max_hops: int, window: float,
                 tolerance: float) -> list[NodeEvidence]:
    """Alerting nodes that ``cand`` can explain: they depend on it (within ``max_hops``) and
    began no earlier than ``tolerance`` before it and at most ``window`` after it.

    This is the temporal-causal consistency every topology-based RCA assumes: a fault
    reaches dependents after it starts, within a bounded delay.
    """
    if graph is None or cand.node not in graph:
        return []
    dependents = graph.upstream_within(cand.node, max_hops)
    lo, hi = cand.onset - tolerance, cand.onset + window
    if len(dependents) < len(evidence):
        return [evidence[n] for n in dependents
                if n != cand.node and n in evidence and lo <= evidence[n].onset <= hi]
    return [e for n, e in evidence.items()
            if n != cand.node and n in dependents and lo <= e.onset <= hi]


def explanations(cands: Sequence[NodeEvidence], evidence: Mapping[str, NodeEvidence],
                 graph: ServiceGraph | None, max_hops: int, window: float,
                 tolerance: float) -> dict[str, list[NodeEvidence]]:
    """:func:`explained_by` for every candidate at once.

    Walks from each alerting node *down* to its dependencies (a handful each) instead of
    from each candidate up to its dependents (thousands for a shared database).
    """
    out: dict[str, list[NodeEvidence]] = {e.node: [] for e in cands}
    if graph is None:
        return out
    names = frozenset(out)
    for effect in sorted(evidence.values(), key=lambda e: (e.onset, e.node)):
        if effect.node not in graph:
            continue
        onset = effect.onset
        for cause_name in graph.downstream_within(effect.node, max_hops) & names:
            if cause_name == effect.node:
                continue
            cause = evidence[cause_name]
            if cause.onset - tolerance <= onset <= cause.onset + window:
                out[cause_name].append(effect)
    return out


def proximity(cause: NodeEvidence, effect: NodeEvidence, scale: float) -> float:
    """How well the timing fits "``cause`` led to ``effect``": 1 when the effect began at
    the same time, decaying with the delay (slow faults such as leaks still get credit)."""
    return math.exp(-max(0.0, effect.onset - cause.onset) / scale)


def coverage(cands: Sequence[NodeEvidence], evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None, max_hops: int, window: float, tolerance: float,
             scale: float, pairs: DependencyPairs | None = None
             ) -> tuple[np.ndarray, Callable[[int], list[NodeEvidence]]]:
    """Explanation coverage of every candidate, in one vectorised pass.

    The same pairs as :func:`explanations` (an effect depends on the cause within
    ``max_hops`` and began between ``tolerance`` before and ``window`` after it), each
    worth 1 when it followed at once, decaying with the delay over ``scale`` seconds and
    timed from the cause's latest alert that precedes the effect (a problem that develops,
    a leak then latency, is judged by its latest sign). Returns ``1 + sum`` per candidate,
    in ``cands`` order, and a function listing the effects of candidate ``i`` for the
    evidence text. The pairs are collected with set intersections and scored with numpy:
    an incident of 300 nodes has ~10,000 pairs, too many for a Python loop per ranking.
    """
    n = len(cands)
    if len(evidence) <= 1:  # a lone alerting node explains nothing else
        return np.ones(n), lambda i: []
    first = np.array([e.onset for e in cands], dtype=np.float64)
    self_pairs = True
    if graph is not None and pairs is not None:
        # every alerting node is an effect, numbered as in ``pairs``; causes are candidates
        self_pairs = False  # kept pairs never link a node to itself
        eff, cause = pairs.arrays()
        if n == len(pairs.names) and [e.node for e in cands] == pairs.names:
            effects: Sequence[NodeEvidence] = cands  # every node is a candidate, alike
            eff_on = first
            ci, ej = cause, eff
        else:
            effects = [evidence[n] for n in pairs.names]
            eff_on = np.array([e.onset for e in effects], dtype=np.float64)
            slot = np.full(len(effects), -1, dtype=np.int64)
            slot[[pairs.index[e.node] for e in cands]] = np.arange(n)
            ci = slot[cause]
            ok = np.flatnonzero(ci >= 0)
            ci, ej = ci.take(ok), eff.take(ok)
    else:
        index = {e.node: i for i, e in enumerate(cands)}
        names = frozenset(index)
        effects = [e for e in evidence.values() if graph is not None and e.node in graph]
        cause_i: list[int] = []
        effect_i: list[int] = []
        if graph is not None:
            for j, effect in enumerate(effects):
                causes = graph.downstream_within(effect.node, max_hops) & names
                if causes:
                    cause_i.extend(map(index.__getitem__, causes))
                    effect_i.extend([j] * len(causes))
        if len(cause_i) <= _SMALL_COVERAGE:
            return _coverage_small(cands, index, effects, cause_i, effect_i, window,
                                   tolerance, scale)
        ci = np.array(cause_i, dtype=np.int64)
        ej = np.array(effect_i, dtype=np.int64)
        eff_on = np.array([e.onset for e in effects], dtype=np.float64)
        eff_node = np.array([index.get(e.node, -1) for e in effects], dtype=np.int64)
    if len(ci):
        # the window first, then timing credit for the pairs that passed (the same values
        # as scoring every pair and dropping the rest, with less arithmetic)
        last = np.maximum(first, np.array([e.last_onset for e in cands], dtype=np.float64))
        c_first, onset = first.take(ci), eff_on.take(ej)
        keep = (onset >= c_first - tolerance) & (onset <= c_first + window)
        if self_pairs:
            keep &= eff_node.take(ej) != ci
        sel = np.flatnonzero(keep)
        ci, ej = ci.take(sel), ej.take(sel)
        c_first, c_last, onset = c_first.take(sel), last.take(ci), onset.take(sel)
        ref = np.where(c_last <= onset + tolerance, c_last, c_first)
        credit = np.exp(-np.maximum(0.0, onset - ref) / scale)
        cover = 1.0 + np.bincount(ci, weights=credit, minlength=n)
    else:
        cover = np.ones(n)

    def explained(i: int) -> list[NodeEvidence]:
        return [effects[j] for j in ej[ci == i]]

    return cover, explained


#: Up to this many dependency pairs coverage is scored in plain Python.
_SMALL_COVERAGE = 256


def _coverage_small(cands: Sequence[NodeEvidence], index: Mapping[str, int],
                    effects: Sequence[NodeEvidence], cause_i: Sequence[int],
                    effect_i: Sequence[int], window: float, tolerance: float, scale: float
                    ) -> tuple[np.ndarray, Callable[[int], list[NodeEvidence]]]:
    """:func:`coverage` for a few pairs: the same arithmetic, pair by pair, in the same
    order (numpy only for ``exp``), without two dozen array operations per ranking."""
    first = [e.onset for e in cands]
    last = [max(f, e.last_onset) for f, e in zip(first, cands, strict=True)]
    kept: list[tuple[int, int]] = []
    power: list[float] = []
    for c, j in zip(cause_i, effect_i, strict=True):
        effect = effects[j]
        onset = effect.onset
        c_first = first[c]
        if index.get(effect.node, -1) == c or not (
                onset >= c_first - tolerance and onset <= c_first + window):
            continue
        c_last = last[c]
        ref = c_last if c_last <= onset + tolerance else c_first
        power.append(-max(0.0, onset - ref) / scale)
        kept.append((c, j))
    total = [0.0] * len(cands)
    if power:
        for (c, _), credit in zip(kept, np.exp(np.array(power)).tolist(), strict=True):
            total[c] += credit

    def explained(i: int) -> list[NodeEvidence]:
        return [effects[j] for c, j in kept if c == i]

    return np.array([1.0 + t for t in total]), explained


class CompositeRanker:
    """Blend of explanation coverage, graph position (PageRank), anomaly score, alert class.

    * coverage: how many of the incident's alerting nodes a candidate explains (see
      :func:`explained_by`), each weighted by how soon it followed, relative to the best;
    * graph: personalised PageRank on the reversed dependency graph, normalised to the best;
    * score: the candidate's anomaly score relative to the incident's largest;
    * kind: a prior on the alert class (a change or an outage is more often a cause than a
      latency symptom).

    Severity alone misleads (callers of a slow service often show larger latency than the
    service itself), so coverage and graph position carry most of the weight.

    >>> from correlator.types import NodeEvidence
    >>> from topology.graph import ServiceGraph
    >>> g = ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis")])
    >>> ev = {"frontend": NodeEvidence("frontend", 130, 6.0, kinds={"symptom"},
    ...                                alerts={"HighLatency"}),
    ...       "cart": NodeEvidence("cart", 100, 4.0, kinds={"resource"}, alerts={"HighCPU"})}
    >>> top = CompositeRanker().rank(ev, g)[0]
    >>> top.service
    'cart'
    >>> top.evidence[1]
    'cart: HighCPU began 30 s before frontend (HighLatency)'
    """

    name = "composite"

    def __init__(self, limit: int = 5, w_cover: float = 0.4, w_graph: float = 0.2,
                 w_score: float = 0.1, w_kind: float = 0.3, window: float = 1200.0,
                 tolerance: float = 30.0, delay_scale: float = 300.0,
                 kind_prior: Mapping[str, float] | None = None,
                 max_hops: int = 4, cache_nodes: int = 64) -> None:
        self.limit = limit
        self.weights = (w_cover, w_graph, w_score, w_kind)
        self.window = window
        self.tolerance = tolerance
        self.delay_scale = delay_scale
        self.max_hops = max_hops
        self.kind_prior = dict(kind_prior or DEFAULT_KIND_PRIOR)
        self.pagerank = PageRankRanker(limit=limit, max_hops=1)
        self.cache_nodes = cache_nodes
        # dependency pairs of the incidents being ranked, by the identity of their evidence
        # mapping (the engine passes the same growing dict every time); a few big incidents
        # at once, least recently ranked dropped first
        self._pairs: OrderedDict[int, tuple[Mapping[str, NodeEvidence], DependencyPairs,
                                            DependencyPairs]] = OrderedDict()

    def _pairs_for(self, evidence: Mapping[str, NodeEvidence], graph: ServiceGraph | None
                   ) -> tuple[DependencyPairs | None, DependencyPairs | None]:
        """Kept pair indexes for a big incident, brought up to date; none for small ones
        (a fresh walk is cheap there and keeping them would only cost memory)."""
        if graph is None or len(evidence) <= self.cache_nodes:
            return None, None
        key = id(evidence)
        hit = self._pairs.get(key)
        if hit is None or hit[0] is not evidence:
            hit = (evidence, DependencyPairs(self.max_hops),
                   DependencyPairs(self.pagerank.max_hops))
            self._pairs[key] = hit
            while len(self._pairs) > 16:
                self._pairs.popitem(last=False)
        else:
            self._pairs.move_to_end(key)
        hit[1].update(evidence, graph)
        hit[2].update(evidence, graph)
        return hit[1], hit[2]

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        cands = _candidates(evidence)
        if not cands:
            return []
        deep, near = self._pairs_for(evidence, graph)
        pr = self.pagerank.scores(evidence, graph, near)
        top_pr = max(pr.values()) or 1.0
        raw_scores = [e.score for e in cands]
        top_score = max(raw_scores) or 1.0
        w_cover, w_graph, w_score, w_kind = self.weights
        n_nodes = len(evidence)
        cover_arr, explains = coverage(cands, evidence, graph, self.max_hops, self.window,
                                       self.tolerance, self.delay_scale, deep)
        top_cover = float(cover_arr.max())
        prior = self.kind_prior
        kind_l: list[float] = []
        for e in cands:
            if len(e.kinds) == 1:
                for k in e.kinds:
                    kind_l.append(prior.get(k, 0.4))
            else:
                kind_l.append(max((prior.get(k, 0.4) for k in e.kinds), default=0.4))
        pr_l = [pr.get(e.node, 0.0) for e in cands]
        score_l = [0.0 if s < 0.0 else s for s in raw_scores]  # max(score, 0.0)
        if 0 < 4 * self.limit < len(cands):
            # the same sums elementwise (same operands, same order), then a partial sort
            arr = (w_cover * cover_arr / top_cover + w_graph * np.array(pr_l) / top_pr
                   + w_score * np.array(score_l) / top_score + w_kind * np.array(kind_l))
            order = self._top(arr, cands)
            total_l = arr.tolist()
        else:
            total_l = [w_cover * c / top_cover + w_graph * p / top_pr
                       + w_score * sc / top_score + w_kind * k
                       for c, p, sc, k in zip(cover_arr.tolist(), pr_l, score_l, kind_l,
                                              strict=True)]
            order = heapq.nsmallest(self.limit, range(len(cands)), key=lambda i: (
                -total_l[i], cands[i].onset, cands[i].node))
        out: list[RootCause] = []
        for i in order:
            e = cands[i]
            out.append(RootCause(e.node, round(total_l[i], 4),
                                 self._explain(e, explains(i), n_nodes, pr_l[i] / top_pr)))
        return out

    def _top(self, total: np.ndarray, cands: Sequence[NodeEvidence]) -> list[int]:
        """Positions of the ``limit`` best totals, by (-total, onset, node) like the
        small path, without building a key for every candidate."""
        if np.isnan(total).any():  # no order to partition by: compare keys as Python does
            values = total.tolist()
            return heapq.nsmallest(self.limit, range(len(cands)), key=lambda i: (
                -values[i], cands[i].onset, cands[i].node))
        neg = -total
        kth = np.partition(neg, self.limit - 1)[self.limit - 1]
        near = np.flatnonzero(neg <= kth).tolist()
        values = neg.tolist()
        near.sort(key=lambda i: (values[i], cands[i].onset, cands[i].node))
        return near[: self.limit]

    @staticmethod
    def _explain(ev: NodeEvidence, explained: list[NodeEvidence], n_nodes: int,
                 graph_pos: float) -> tuple[str, ...]:
        lines = [_basic_evidence(ev)]
        what = ", ".join(sorted(ev.alerts)) or "alerts"
        # the earliest of its later effects (what sorting them would put first)
        first = min((o for o in explained if o.onset >= ev.onset),
                    key=lambda o: (o.onset, o.node), default=None)
        if first is not None:
            lines.append(f"{ev.node}: {what} began {first.onset - ev.onset:.0f} s before "
                         f"{first.node} ({', '.join(sorted(first.alerts)) or 'alerts'})")
        if explained:
            lines.append(f"explains {len(explained)} of the {n_nodes - 1} other alerting "
                         f"nodes: they depend on {ev.node} and alerted after it")
        lines.append(f"graph position {graph_pos:.2f} of the best; alert class "
                     f"{', '.join(sorted(ev.kinds)) or 'unknown'}")
        return tuple(lines)
