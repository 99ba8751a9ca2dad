"""The conformance suite every ranking strategy must pass, run on each built-in one."""

from __future__ import annotations

import pickle
import random

import pytest

from correlator.ranking import strategy_by_name
from correlator.types import NodeEvidence, RankingStrategy
from topology.graph import ServiceGraph

STRATEGIES = ["composite", "pagerank", "onset", "top-score", "chain", "deepest"]


def _graph() -> ServiceGraph:
    return ServiceGraph.from_edges([("frontend", "cart"), ("frontend", "catalog"),
                                    ("cart", "redis"), ("checkout", "cart"),
                                    ("checkout", "payment")])


def _evidence(seed: int) -> dict[str, NodeEvidence]:
    rnd = random.Random(seed)
    out = {}
    for name in ["frontend", "cart", "redis", "checkout", "payment", "ghost"]:
        out[name] = NodeEvidence(name, onset=100 + rnd.randint(0, 120),
                                 score=rnd.uniform(0.5, 10), kinds={rnd.choice(
                                     ["symptom", "resource", "change"])},
                                 alerts={"A"})
    return out


@pytest.fixture(params=STRATEGIES)
def strategy(request: pytest.FixtureRequest) -> RankingStrategy:
    return strategy_by_name(request.param)


def test_is_a_ranking_strategy(strategy: RankingStrategy) -> None:
    assert isinstance(strategy, RankingStrategy) and strategy.name


@pytest.mark.parametrize("seed", range(5))
def test_deterministic_and_order_independent(strategy: RankingStrategy, seed: int) -> None:
    ev = _evidence(seed)
    shuffled = dict(reversed(list(ev.items())))
    assert strategy.rank(ev, _graph()) == strategy.rank(shuffled, _graph())
    assert strategy.rank(ev, _graph()) == strategy.rank(ev, _graph())


@pytest.mark.parametrize("graph", [None, "g"])
def test_candidates_are_alerting_nodes_sorted_with_evidence(strategy: RankingStrategy,
                                                            graph: str | None) -> None:
    ev = _evidence(1)
    ranked = strategy.rank(ev, _graph() if graph else None)
    assert 1 <= len(ranked) <= 5
    assert all(rc.service in ev for rc in ranked)
    assert len({rc.service for rc in ranked}) == len(ranked)
    scores = [rc.score for rc in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(rc.evidence and all(isinstance(e, str) and e for e in rc.evidence)
               for rc in ranked)


def test_single_and_empty_incidents(strategy: RankingStrategy) -> None:
    assert strategy.rank({}, _graph()) == []
    one = {"cart": NodeEvidence("cart", 1.0, 2.0, kinds={"symptom"}, alerts={"A"})}
    assert [rc.service for rc in strategy.rank(one, _graph())] == ["cart"]


def test_inhibited_nodes_are_not_candidates(strategy: RankingStrategy) -> None:
    ev = _evidence(2)
    ev["redis"].inhibited = True
    assert "redis" not in [rc.service for rc in strategy.rank(ev, _graph())]


def test_unknown_nodes_and_pickling(strategy: RankingStrategy) -> None:
    ev = {"nowhere": NodeEvidence("nowhere", 5.0, 1.0, alerts={"A"}),
          "cart": NodeEvidence("cart", 6.0, 1.0, alerts={"A"})}
    assert {rc.service for rc in strategy.rank(ev, _graph())} == {"nowhere", "cart"}
    clone = pickle.loads(pickle.dumps(strategy))
    assert clone.rank(_evidence(3), _graph()) == strategy.rank(_evidence(3), _graph())


def test_composite_prefers_the_dependency_that_explains_the_symptoms() -> None:
    ev = {"frontend": NodeEvidence("frontend", 130, 9.0, kinds={"symptom"}, alerts={"Lat"}),
          "checkout": NodeEvidence("checkout", 131, 8.0, kinds={"symptom"}, alerts={"Lat"}),
          "cart": NodeEvidence("cart", 100, 3.0, kinds={"resource"}, alerts={"HighCPU"}),
          # an old unrelated alert deeper in the graph must not win by being early
          "redis": NodeEvidence("redis", -3000, 4.0, kinds={"resource"}, alerts={"Mem"})}
    top = strategy_by_name("composite").rank(ev, _graph())
    assert top[0].service == "cart"
    assert any("began 30 s before frontend" in line for line in top[0].evidence)
