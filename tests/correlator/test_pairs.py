"""The kept dependency pairs of a growing incident equal a fresh computation."""

from __future__ import annotations

import random

import networkx as nx

from correlator.pairs import DependencyPairs
from correlator.ranking import CompositeRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


def _graph(seed: int) -> ServiceGraph:
    dag = nx.gnp_random_graph(120, 0.04, seed=seed, directed=True)
    return ServiceGraph.from_edges([(f"s{a}", f"s{b}") for a, b in dag.edges() if a < b])


def _pairs(p: DependencyPairs) -> set[tuple[str, str]]:
    eff, cause = p.arrays()
    return {(p.names[e], p.names[c]) for e, c in zip(eff.tolist(), cause.tolist(), strict=True)}


def test_incremental_pairs_equal_fresh_ones() -> None:
    g = _graph(3)
    nodes = [f"s{i}" for i in random.Random(1).sample(range(120), 80)]
    grown = DependencyPairs(max_hops=3)
    for end in (10, 25, 26, 60, 80):
        grown.update(nodes[:end], g)
    fresh = DependencyPairs(max_hops=3)
    fresh.update(nodes, g)
    assert _pairs(grown) == _pairs(fresh)
    expected = {(a, b) for a in nodes for b in nodes
                if a != b and b in g.downstream_within(a, 3)}
    assert _pairs(fresh) == expected


def test_pairs_rebuild_when_nodes_disappear() -> None:
    g = _graph(4)
    p = DependencyPairs(max_hops=2)
    p.update(["s1", "s2", "s3"], g)
    p.update(["s2", "s3"], g)
    assert p.names == ["s2", "s3"]


def test_cached_ranking_of_a_growing_incident_equals_a_fresh_one() -> None:
    g = _graph(5)
    rng = random.Random(2)
    evidence: dict[str, NodeEvidence] = {}
    cached = CompositeRanker(cache_nodes=8)
    uncached = CompositeRanker(cache_nodes=10**9)
    for i, n in enumerate(rng.sample(range(120), 60)):
        evidence[f"s{n}"] = NodeEvidence(f"s{n}", onset=float(i * 7 % 50), score=rng.random(),
                                         kinds={rng.choice(["resource", "symptom"])})
        if i % 9 == 8:
            a = cached.rank(evidence, g)
            b = uncached.rank(evidence, g)
            assert [(r.service, r.score) for r in a] == [(r.service, r.score) for r in b]
