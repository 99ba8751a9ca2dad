"""Ranking strategy ``pagerank``: personalised PageRank on the graph of alerting nodes with
edges pointing from a dependent to what it depends on (the "reversed call graph" of MicroRCA
and CloudRanger): rank mass flows from symptoms to the dependencies that can explain them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter

import numpy as np

from aiops.model import RootCause
from correlator.pairs import DependencyPairs
from correlator.rank_common import _basic_evidence, _candidates
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


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
    src_i = np.fromiter((e[0] for e in edges), dtype=np.int64, count=len(edges))
    dst_i = np.fromiter((e[1] for e in edges), dtype=np.int64, count=len(edges))
    wts = np.fromiter((e[2] for e in edges), dtype=np.float64, count=len(edges))
    return _pagerank(n, src_i, dst_i, wts, personalization, alpha, iterations, tol)


def _pagerank(n: int, src_i: np.ndarray, dst_i: np.ndarray, weights: np.ndarray,
              personalization: np.ndarray, alpha: float, iterations: int,
              tol: float) -> np.ndarray:
    """:func:`personalized_pagerank` over edge arrays (``src_i[k] -> dst_i[k]``)."""
    out_w = np.bincount(src_i, weights=weights, minlength=n)  # summed in edge order
    wts = weights / out_w[src_i]
    dangling = np.flatnonzero(out_w == 0)
    rank = personalization.copy()
    flow_w = np.empty(len(src_i))
    for _ in range(iterations):
        np.multiply(rank.take(src_i), wts, out=flow_w)
        flow = np.bincount(dst_i, weights=flow_w, minlength=n)
        restart = alpha * np.add.reduce(rank.take(dangling)) + (1 - alpha)
        nxt = alpha * flow + restart * personalization
        if np.add.reduce(np.abs(nxt - rank)) < tol:
            rank = nxt
            break
        rank = nxt
    return rank


def _np_sum(values: Sequence[float]) -> float:
    """``numpy.sum`` of a float64 vector, in numpy's own order (pairwise, eight running
    sums per block of up to 128), so that small rankings can stay in plain Python and
    still give the very same bits as the vectorised path."""
    return _pairwise(values, 0, len(values))


def _pairwise(a: Sequence[float], lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[lo:lo + 8]
        i = lo + 8
        end = lo + n - n % 8
        while i < end:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for j in range(end, lo + n):
            res += a[j]
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


def _pagerank_small(n: int, src: Sequence[int], dst: Sequence[int],
                    weights: Sequence[float], personalization: Sequence[float],
                    alpha: float, iterations: int, tol: float) -> list[float]:
    """:func:`_pagerank` in plain Python, the same operations in the same order: for a
    handful of nodes fifty numpy iterations cost far more in call overhead than in
    arithmetic."""
    out_w = [0.0] * n
    for s, w in zip(src, weights, strict=True):
        out_w[s] += w
    edges = [(s, d, w / out_w[s]) for s, d, w in zip(src, dst, weights, strict=True)]
    dangling = [i for i in range(n) if out_w[i] == 0]
    rank = list(personalization)
    pers = rank
    rest = 1 - alpha
    few = n < 8  # numpy sums fewer than eight values one after the other
    for _ in range(iterations):
        flow = [0.0] * n
        for s, d, w in edges:
            flow[d] += rank[s] * w
        if len(dangling) < 8:
            mass = 0.0
            for i in dangling:
                mass += rank[i]
        else:
            mass = _np_sum([rank[i] for i in dangling])
        restart = alpha * mass + rest
        nxt = [alpha * f + restart * p for f, p in zip(flow, pers, strict=True)]
        if few:
            diff = 0.0
            for a, b in zip(nxt, rank, strict=True):
                diff += abs(a - b)
        else:
            diff = _np_sum([abs(a - b) for a, b in zip(nxt, rank, strict=True)])
        rank = nxt
        if diff < tol:
            break
    return rank


def _reported(names: Sequence[str], values: Sequence[float],
              chosen: Sequence[NodeEvidence]) -> dict[str, float]:
    """PageRank of the candidates only, in name order (every node walked)."""
    if len(chosen) == len(names):
        return dict(zip(names, values, strict=True))
    keep = {e.node for e in chosen}
    return {n: x for n, x in zip(names, values, strict=True) if n in keep}


#: PageRank results are remembered for walks of up to this many candidates.
_MEMO_PAGERANK = 64

#: Up to this many candidates (and four times as many edges) PageRank runs in plain Python.
_SMALL_PAGERANK = 24


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
        # PageRank of small walks by their exact input (names, scores, edges)
        self._walked: dict[tuple[tuple[str, ...], tuple[float, ...], tuple[int, ...],
                                 tuple[int, ...]], list[float]] = {}

    def scores(self, evidence: Mapping[str, NodeEvidence], graph: ServiceGraph | None,
               pairs: DependencyPairs | None = None) -> dict[str, float]:
        """PageRank per candidate; ``pairs`` (``max_hops`` deep, covering ``evidence``)
        replaces the per-node graph walks when the caller keeps one."""
        # Inhibited nodes walk too (they are effects, and their mass belongs to what
        # absorbed them, a host under its pods) but are never reported as candidates.
        chosen = _candidates(evidence)
        if len(chosen) == 1:  # nothing to walk between: all the mass stays put
            return {chosen[0].node: 1.0}
        cands = sorted(evidence.values(), key=attrgetter("node"))
        names = [e.node for e in cands]
        n = len(names)
        sev_l = [1e-3 if s < 1e-3 else s for s in map(attrgetter("score"), cands)]
        if graph is not None and pairs is not None:
            sev = np.array(sev_l)
            slot = np.full(len(pairs.names), -1, dtype=np.int64)
            slot[[pairs.index[n] for n in names]] = np.arange(n)
            eff, cause = pairs.arrays()
            src, dst = slot[eff], slot[cause]
            ok = (src >= 0) & (dst >= 0)
            src, dst = src[ok], dst[ok]
            pr = _pagerank(n, src, dst, sev[dst], sev / np.add.reduce(sev), self.alpha,
                           50, 1e-9)
            return _reported(names, pr.tolist(), chosen)
        src_l: list[int] = []
        dst_l: list[int] = []
        w_l: list[float] = []
        if graph is not None:
            index = {n: i for i, n in enumerate(names)}
            for i, name in enumerate(names):
                if name not in graph:
                    continue
                for dep in graph.downstream_within(name, self.max_hops) & index.keys():
                    if dep == name:
                        continue
                    j = index[dep]
                    src_l.append(i)
                    dst_l.append(j)
                    w_l.append(sev_l[j])
        # the walk depends on nothing else: a small incident re-ranked for a new onset or
        # alert class, not a new node or score, walks exactly as last time
        key = (tuple(names), tuple(sev_l), tuple(src_l), tuple(dst_l)) \
            if n <= _MEMO_PAGERANK else None
        values = self._walked.get(key) if key is not None else None
        if values is None:
            if n <= _SMALL_PAGERANK and len(src_l) <= 4 * _SMALL_PAGERANK:
                total = _np_sum(sev_l)
                values = _pagerank_small(n, src_l, dst_l, w_l, [s / total for s in sev_l],
                                         self.alpha, 50, 1e-9)
            else:
                sev = np.array(sev_l)
                values = _pagerank(n, np.array(src_l, dtype=np.int64),
                                   np.array(dst_l, dtype=np.int64),
                                   np.array(w_l, dtype=np.float64), sev / np.add.reduce(sev),
                                   self.alpha, 50, 1e-9).tolist()
            if key is not None:
                if len(self._walked) >= 512:
                    self._walked.clear()
                self._walked[key] = values
        return _reported(names, values, chosen)

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        pr = self.scores(evidence, graph)
        ordered = sorted(pr, key=lambda n: (-pr[n], n))
        return [RootCause(n, round(pr[n], 4),
                          (_basic_evidence(evidence[n]), f"pagerank {pr[n]:.3f}"))
                for n in ordered[: self.limit]]
