"""The fast paths of ranking give bit-for-bit the results of the vectorised ones.

Small incidents are ranked in plain Python and big ones partly with numpy; a root cause's
score is rounded and ties are broken by onset and name, so even a last-bit difference
between the two could reorder candidates. These tests hold both paths to equality.
"""

from __future__ import annotations

import heapq
import random

import networkx as nx
import numpy as np
import pytest

from correlator import rank_composite, rank_pagerank
from correlator.pairs import DependencyPairs
from correlator.ranking import (
    CompositeRanker,
    PageRankRanker,
    _candidates,
    _np_sum,
    _pagerank,
    _pagerank_small,
    coverage,
)
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


def _graph(seed: int, n: int = 90) -> ServiceGraph:
    dag = nx.gnp_random_graph(n, 0.05, seed=seed, directed=True)
    return ServiceGraph.from_edges([(f"s{a}", f"s{b}") for a, b in dag.edges() if a < b])


def _evidence(seed: int, n: int, graph_nodes: int = 90) -> dict[str, NodeEvidence]:
    rnd = random.Random(seed)
    out: dict[str, NodeEvidence] = {}
    for i in rnd.sample(range(graph_nodes), n):
        onset = 1000.0 + rnd.choice([0, 0, 15, 30, 60, 240, 900, 1500]) + rnd.random()
        out[f"s{i}"] = NodeEvidence(
            f"s{i}", onset=onset, score=rnd.choice([0.0, 1.0, 2.5, rnd.uniform(0, 9)]),
            kinds={rnd.choice(["symptom", "resource", "change", "availability"])},
            alerts={rnd.choice(["HighLatency", "HighCPU", "PodDown"])},
            inhibited=rnd.random() < 0.1, last_onset=onset + rnd.choice([0.0, 20.0, 400.0]))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_python_sum_is_numpys_sum(seed: int) -> None:
    rnd = random.Random(seed)
    for n in (0, 1, 5, 7, 8, 9, 15, 16, 17, 100, 128, 129, 257, rnd.randint(0, 600)):
        values = [rnd.random() * 10 ** rnd.randint(-8, 4) for _ in range(n)]
        assert _np_sum(values) == float(np.add.reduce(np.array(values, dtype=np.float64)))


@pytest.mark.parametrize("seed", range(60))
def test_small_pagerank_is_the_numpy_pagerank(seed: int) -> None:
    rnd = random.Random(seed)
    n = rnd.randint(2, 30)
    edges = [(rnd.randrange(n), rnd.randrange(n)) for _ in range(rnd.randint(0, 3 * n))]
    edges = [(a, b) for a, b in edges if a != b]
    sev = [max(rnd.choice([0.0, 1.0, rnd.uniform(0, 9)]), 1e-3) for _ in range(n)]
    weights = [sev[b] for _, b in edges]
    total = _np_sum(sev)
    fast = _pagerank_small(n, [a for a, _ in edges], [b for _, b in edges], weights,
                           [s / total for s in sev], 0.85, 50, 1e-9)
    arr = np.array(sev)
    slow = _pagerank(n, np.array([a for a, _ in edges], dtype=np.int64),
                     np.array([b for _, b in edges], dtype=np.int64),
                     np.array(weights, dtype=np.float64), arr / np.add.reduce(arr),
                     0.85, 50, 1e-9)
    assert fast == slow.tolist()


@pytest.mark.parametrize("seed", range(25))
def test_pagerank_scores_do_not_depend_on_the_path(seed: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    g = _graph(seed)
    ev = _evidence(seed, random.Random(seed).randint(2, 24))
    fast = PageRankRanker(max_hops=1).scores(ev, g)
    monkeypatch.setattr(rank_pagerank, "_SMALL_PAGERANK", 0)
    assert PageRankRanker(max_hops=1).scores(ev, g) == fast


@pytest.mark.parametrize("seed", range(25))
def test_small_coverage_is_the_numpy_coverage(seed: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    g = _graph(seed)
    ev = _evidence(seed, random.Random(seed).randint(2, 40))
    cands = _candidates(ev)
    cover, explained = coverage(cands, ev, g, 4, 1200.0, 30.0, 300.0)
    monkeypatch.setattr(rank_composite, "_SMALL_COVERAGE", -1)
    cover_np, explained_np = coverage(cands, ev, g, 4, 1200.0, 30.0, 300.0)
    assert cover.tolist() == cover_np.tolist()
    for i in range(len(cands)):
        assert [e.node for e in explained(i)] == [e.node for e in explained_np(i)]


@pytest.mark.parametrize("seed", range(10))
def test_kept_pairs_score_like_a_fresh_walk(seed: int) -> None:
    """With all nodes candidates the big path skips the renumbering; it must still give
    the coverage of the walk the small path does, up to summation order."""
    g = _graph(seed, 200)
    ev = _evidence(seed, 150, 200)
    for e in ev.values():
        e.inhibited = False
    cands = _candidates(ev)
    pairs = DependencyPairs(4)
    pairs.update(ev, g)
    kept, _ = coverage(cands, ev, g, 4, 1200.0, 30.0, 300.0, pairs)
    walked, _ = coverage(cands, ev, g, 4, 1200.0, 30.0, 300.0)
    assert np.allclose(kept, walked, rtol=1e-12, atol=0)


def _reference_rank(r: CompositeRanker, ev: dict[str, NodeEvidence],
                    g: ServiceGraph) -> list[tuple[str, float]]:
    """The blend as first written: a Python sum per candidate and a heap over all."""
    cands = _candidates(ev)
    deep, near = r._pairs_for(ev, g)
    pr = r.pagerank.scores(ev, g, near)
    top_pr = max(pr.values()) or 1.0
    top_score = max(e.score for e in cands) or 1.0
    w_cover, w_graph, w_score, w_kind = r.weights
    cover, _ = coverage(cands, ev, g, r.max_hops, r.window, r.tolerance, r.delay_scale, deep)
    top_cover = float(cover.max())
    total = {}
    for i, e in enumerate(cands):
        kind = max((r.kind_prior.get(k, 0.4) for k in e.kinds), default=0.4)
        total[e.node] = (w_cover * float(cover[i]) / top_cover
                         + w_graph * pr.get(e.node, 0.0) / top_pr
                         + w_score * max(e.score, 0.0) / top_score + w_kind * kind)
    ordered = heapq.nsmallest(r.limit, total, key=lambda n: (-total[n], ev[n].onset, n))
    return [(n, round(total[n], 4)) for n in ordered]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("size", [3, 12, 30, 80])
def test_composite_blend_and_top_pick_match_the_reference(seed: int, size: int) -> None:
    g = _graph(seed, 120)
    ev = _evidence(seed, size, 120)
    r = CompositeRanker(cache_nodes=16)
    got = [(rc.service, rc.score) for rc in r.rank(ev, g)]
    assert got == _reference_rank(CompositeRanker(cache_nodes=16), ev, g)


def test_ties_are_broken_by_onset_then_name_on_the_vectorised_path() -> None:
    g = ServiceGraph.from_edges([(f"a{i}", "db") for i in range(30)])
    ev = {f"a{i}": NodeEvidence(f"a{i}", onset=100.0 + (i % 3), score=1.0,
                                kinds={"symptom"}, alerts={"X"}) for i in range(30)}
    top = [rc.service for rc in CompositeRanker().rank(ev, g)]
    assert top == ["a0", "a12", "a15", "a18", "a21"]
