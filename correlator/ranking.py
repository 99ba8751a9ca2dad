"""Root-cause ranking strategies (pluggable through :class:`correlator.types.RankingStrategy`).

All strategies read only what alerts and the graph say: onset times, anomaly scores, alert
classes (from generic Prometheus naming words, :data:`correlator.config.DEFAULT_KIND_WORDS`)
and dependency edges. None knows how alerts were produced; the signals are the ones the RCA
literature uses (MicroRCA/CloudRanger random walks, onset order, resource-vs-symptom priors).

* :class:`TopScoreRanker`: the highest anomaly score first (the simplest useful answer).
* :class:`OnsetRanker`: the earliest alert first (faults usually show first where they start).
* :class:`PageRankRanker`: personalised PageRank on the graph of alerting nodes with edges
  pointing from a dependent to what it depends on (the "reversed call graph" of MicroRCA and
  CloudRanger): rank mass flows from symptoms to the dependencies that can explain them.
* :class:`CompositeRanker`: a weighted blend of the above plus an alert-class prior, with
  human-readable evidence for every candidate.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from aiops.model import ConfigError, RootCause
from correlator.pairs import DependencyPairs
from correlator.types import NodeEvidence, RankingStrategy
from topology.graph import ServiceGraph

#: Prior belief that an alert class points at a cause rather than an effect.
DEFAULT_KIND_PRIOR: dict[str, float] = {
    "change": 1.0, "availability": 0.9, "resource": 0.8, "symptom": 0.4,
}


def _fmt_ts(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(ts))


def _candidates(evidence: Mapping[str, NodeEvidence]) -> list[NodeEvidence]:
    """Nodes that may be causes: inhibited-only nodes are effects by definition."""
    live = [e for e in evidence.values() if not e.inhibited]
    return live or list(evidence.values())


def _basic_evidence(ev: NodeEvidence) -> str:
    what = ", ".join(sorted(ev.alerts)) or "alerts"
    line = f"{ev.node}: {what} (score {ev.score:.2f}) since {_fmt_ts(ev.onset)}"
    return f"{line}: {ev.summary}" if ev.summary else line


class TopScoreRanker:
    """The highest-scored alerting node first; ties by earlier onset, then name.

    >>> from correlator.types import NodeEvidence
    >>> ev = {"a": NodeEvidence("a", onset=5, score=2.0),
    ...       "b": NodeEvidence("b", onset=1, score=3.0)}
    >>> [c.service for c in TopScoreRanker().rank(ev, None)]
    ['b', 'a']
    """

    name = "top-score"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        ordered = heapq.nsmallest(self.limit, _candidates(evidence),
                                  key=lambda e: (-e.score, e.onset, e.node))
        return [RootCause(e.node, round(e.score, 4), (_basic_evidence(e),)) for e in ordered]


class OnsetRanker:
    """The earliest alerting node first; ties by higher score, then name."""

    name = "onset"

    def __init__(self, limit: int = 5) -> None:
        self.limit = limit

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        cands = _candidates(evidence)
        ordered = sorted(cands, key=lambda e: (e.onset, -e.score, e.node))
        if not ordered:
            return []
        t0 = ordered[0].onset
        return [RootCause(e.node, round(1.0 / (1.0 + max(0.0, e.onset - t0) / 60.0), 4),
                          (_basic_evidence(e),))
                for e in ordered[: self.limit]]


def personalized_pagerank(nodes: Sequence[str], edges: Sequence[tuple[int, int, float]],
                          personalization: np.ndarray, alpha: float = 0.85,
                          iterations: int = 50, tol: float = 1e-9) -> np.ndarray:
    """Power iteration for PageRank with restart vector ``personalization`` (sums to 1).

    Dangling nodes (no outgoing edge) return their mass to the restart vector, so a node
    that depends on nothing alerting keeps what flows into it: that is the root-cause signal.

    >>> pr = personalized_pagerank(["a", "b"], [(0, 1, 1.0)], np.array([0.5, 0.5]))
    >>> bool(pr[1] > pr[0])
    True
    """
    n = len(nodes)
    if n == 0:
        return np.zeros(0)
    out_w = np.zeros(n)
    for src, _, w in edges:
        out_w[src] += w
    if edges:
        src_i = np.fromiter((e[0] for e in edges), dtype=np.int64, count=len(edges))
        dst_i = np.fromiter((e[1] for e in edges), dtype=np.int64, count=len(edges))
        wts = np.fromiter((e[2] for e in edges), dtype=np.float64, count=len(edges))
        wts = wts / out_w[src_i]
    else:
        src_i = dst_i = np.zeros(0, dtype=np.int64)
        wts = np.zeros(0)
    dangling = out_w == 0
    rank = personalization.copy()
    for _ in range(iterations):
        flow = np.bincount(dst_i, weights=rank[src_i] * wts, minlength=n)
        restart = alpha * rank[dangling].sum() + (1 - alpha)
        nxt = alpha * flow + restart * personalization
        if np.abs(nxt - rank).sum() < tol:
            rank = nxt
            break
        rank = nxt
    return rank


class PageRankRanker:
    """Personalised PageRank over the alerting nodes, walking from dependents to dependencies.

    The walk starts at alerting nodes in proportion to their anomaly scores and follows
    "depends on" edges (within ``max_hops`` on the service graph, so a service whose pods
    alert links to them) weighted by the target's score; mass piles up at dependencies that
    explain their dependents. Without a graph it degrades to score order.
    """

    name = "pagerank"

    def __init__(self, limit: int = 5, alpha: float = 0.85, max_hops: int = 2) -> None:
        self.limit = limit
        self.alpha = alpha
        self.max_hops = max_hops

    def scores(self, evidence: Mapping[str, NodeEvidence], graph: ServiceGraph | None,
               pairs: DependencyPairs | None = None) -> dict[str, float]:
        """PageRank per candidate; ``pairs`` (``max_hops`` deep, covering ``evidence``)
        replaces the per-node graph walks when the caller keeps one."""
        # Inhibited nodes walk too (they are effects, and their mass belongs to what
        # absorbed them, a host under its pods) but are never reported as candidates.
        chosen = _candidates(evidence)
        if len(chosen) == 1:  # nothing to walk between: all the mass stays put
            return {chosen[0].node: 1.0}
        cands = sorted(evidence.values(), key=lambda e: e.node)
        names = [e.node for e in cands]
        index = {n: i for i, n in enumerate(names)}
        sev = np.array([max(e.score, 1e-3) for e in cands])
        edges: list[tuple[int, int, float]] = []
        if graph is not None and pairs is not None:
            slot = np.full(len(pairs.names), -1, dtype=np.int64)
            slot[[pairs.index[n] for n in names]] = np.arange(len(names))
            eff, cause = pairs.arrays()
            src, dst = slot[eff], slot[cause]
            ok = (src >= 0) & (dst >= 0)
            src, dst = src[ok], dst[ok]
            edges = list(zip(src.tolist(), dst.tolist(), sev[dst].tolist(), strict=True))
        elif graph is not None:
            for i, name in enumerate(names):
                if name not in graph:
                    continue
                for dep in graph.downstream_within(name, self.max_hops) & index.keys():
                    if dep == name:
                        continue
                    j = index[dep]
                    edges.append((i, j, float(sev[j])))
        pers = sev / sev.sum()
        pr = personalized_pagerank(names, edges, pers, alpha=self.alpha)
        keep = {e.node for e in chosen}
        return {n: float(x) for n, x in zip(names, pr, strict=True) if n in keep}

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        pr = self.scores(evidence, graph)
        ordered = sorted(pr, key=lambda n: (-pr[n], n))
        return [RootCause(n, round(pr[n], 4),
                          (_basic_evidence(evidence[n]), f"pagerank {pr[n]:.3f}"))
                for n in ordered[: self.limit]]


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
    index = {e.node: i for i, e in enumerate(cands)}
    names = frozenset(index)
    if graph is not None and pairs is not None:
        # every alerting node is an effect, numbered as in ``pairs``; causes are candidates
        effects = [evidence[n] for n in pairs.names]
        slot = np.full(len(effects), -1, dtype=np.int64)
        slot[[pairs.index[n] for n in index]] = np.arange(n)
        eff, cause = pairs.arrays()
        ci = slot[cause]
        ok = ci >= 0
        ci, ej = ci[ok], eff[ok]
    else:
        effects = [e for e in evidence.values() if graph is not None and e.node in graph]
        cause_i: list[int] = []
        effect_i: list[int] = []
        if graph is not None:
            for j, effect in enumerate(effects):
                causes = graph.downstream_within(effect.node, max_hops) & names
                if causes:
                    cause_i.extend(map(index.__getitem__, causes))
                    effect_i.extend([j] * len(causes))
        ci = np.array(cause_i, dtype=np.int64)
        ej = np.array(effect_i, dtype=np.int64)
    first = np.array([e.onset for e in cands], dtype=np.float64)
    last = np.maximum(first, np.array([e.last_onset for e in cands], dtype=np.float64))
    eff_on = np.array([e.onset for e in effects], dtype=np.float64)
    eff_node = np.array([index.get(e.node, -1) for e in effects], dtype=np.int64)
    if len(ci):
        c_first, c_last, onset = first[ci], last[ci], eff_on[ej]
        keep = (eff_node[ej] != ci) & (onset >= c_first - tolerance) \
            & (onset <= c_first + window)
        ref = np.where(c_last <= onset + tolerance, c_last, c_first)
        credit = np.exp(-np.maximum(0.0, onset - ref) / scale)
        ci, ej = ci[keep], ej[keep]
        cover = 1.0 + np.bincount(ci, weights=credit[keep], minlength=n)
    else:
        cover = np.ones(n)

    def explained(i: int) -> list[NodeEvidence]:
        return [effects[j] for j in ej[ci == i]]

    return cover, explained


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
        top_score = max(e.score for e in cands) or 1.0
        w_cover, w_graph, w_score, w_kind = self.weights
        n_nodes = len(evidence)
        cover_arr, explains = coverage(cands, evidence, graph, self.max_hops, self.window,
                                       self.tolerance, self.delay_scale, deep)
        top_cover = float(cover_arr.max())
        total: dict[str, float] = {}
        for i, e in enumerate(cands):
            kind = max((self.kind_prior.get(k, 0.4) for k in e.kinds), default=0.4)
            total[e.node] = (w_cover * float(cover_arr[i]) / top_cover
                             + w_graph * pr.get(e.node, 0.0) / top_pr
                             + w_score * max(e.score, 0.0) / top_score + w_kind * kind)
        ordered = heapq.nsmallest(self.limit, total,
                                  key=lambda n: (-total[n], evidence[n].onset, n))
        position = {e.node: i for i, e in enumerate(cands)}
        out: list[RootCause] = []
        for n in ordered:
            out.append(RootCause(n, round(total[n], 4),
                                 self._explain(evidence[n], explains(position[n]), n_nodes,
                                               pr.get(n, 0.0) / top_pr)))
        return out

    @staticmethod
    def _explain(ev: NodeEvidence, explained: list[NodeEvidence], n_nodes: int,
                 graph_pos: float) -> tuple[str, ...]:
        lines = [_basic_evidence(ev)]
        what = ", ".join(sorted(ev.alerts)) or "alerts"
        later = sorted((o for o in explained if o.onset >= ev.onset),
                       key=lambda o: (o.onset, o.node))
        if later:
            first = later[0]
            lines.append(f"{ev.node}: {what} began {first.onset - ev.onset:.0f} s before "
                         f"{first.node} ({', '.join(sorted(first.alerts)) or 'alerts'})")
        if explained:
            lines.append(f"explains {len(explained)} of the {n_nodes - 1} other alerting "
                         f"nodes: they depend on {ev.node} and alerted after it")
        lines.append(f"graph position {graph_pos:.2f} of the best; alert class "
                     f"{', '.join(sorted(ev.kinds)) or 'unknown'}")
        return tuple(lines)


def strategy_by_name(name: str, limit: int = 5) -> RankingStrategy:
    """Look a built-in strategy up by its ``name`` (for settings and the CLI)."""
    if name == "top-score":
        return TopScoreRanker(limit=limit)
    if name == "onset":
        return OnsetRanker(limit=limit)
    if name == "pagerank":
        return PageRankRanker(limit=limit)
    if name == "composite":
        return CompositeRanker(limit=limit)
    raise ConfigError(f"unknown ranking strategy {name!r} "
                      "(one of composite, pagerank, onset, top-score)")
