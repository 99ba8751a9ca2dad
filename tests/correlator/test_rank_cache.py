"""The ranking memo, the one-walk neighbourhood and the window's strength order: faster,
and the same answers as computing afresh."""

from __future__ import annotations

import copy
import random
from dataclasses import fields, replace

from aiops.model.deviation import Deviation
from correlator.chain_evidence import kind_onsets, profile, rises
from correlator.diagnosis import DeviationWindow, _with_onset
from correlator.rank_cache import READS, RankMemo
from correlator.rank_chain import ChainRanker
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


def _graph(n: int = 40, seed: int = 0) -> ServiceGraph:
    rnd = random.Random(seed)
    edges = [(f"s{i}", f"s{j}") for i in range(n) for j in range(i + 1, n)
             if rnd.random() < 0.08]
    return ServiceGraph.from_edges(edges)


def _evidence(rnd: random.Random, nodes: list[str]) -> dict[str, NodeEvidence]:
    out = {}
    for n in nodes:
        devs = tuple(Deviation(n, fam, fam, kind, rnd.uniform(1, 5), 1.0,
                               rnd.uniform(3, 40), rnd.choice([0.0, 60.0, 120.0, 900.0]),
                               200.0, bad=rnd.random() < 0.9, usual=rnd.choice([0.0, 0.5, 3.0]),
                               rise=rnd.uniform(0, 4))
                     for fam, kind in rnd.sample([("latency", "latency"),
                                                  ("errors", "errors"), ("cpu", "saturation")],
                                                 rnd.randint(0, 2)))
        out[n] = NodeEvidence(n, rnd.choice([0.0, 60.0, 120.0]), rnd.uniform(0.1, 1),
                              kinds={rnd.choice(["symptom", "resource", "availability"])},
                              alerts={"A"} if rnd.random() < 0.5 else set(), deviations=devs)
    return out


def test_a_ranker_with_a_memo_ranks_as_a_fresh_one_while_evidence_changes() -> None:
    """One ranker re-ranks an incident that grows and whose evidence changes in place (as
    an incident's does), its deviations seen again with a new ``ts`` or really changed;
    every ranking equals a fresh ranker's on a copy of the same evidence."""
    g = _graph()
    rnd = random.Random(7)
    names = sorted(g)
    memo_ranker = ChainRanker()
    ev = _evidence(rnd, names[:10])
    for step in range(30):
        assert memo_ranker.rank(ev, g) == ChainRanker().rank(copy.deepcopy(ev), g), step
        for n in rnd.sample(sorted(ev), 3):  # in place, as the incident's evidence changes
            e = ev[n]
            what = rnd.randrange(5)
            if what == 0 and e.deviations:  # seen again: a new object, a new ts
                e.deviations = tuple(replace(d, ts=d.ts + 60.0) for d in e.deviations)
            elif what == 1 and e.deviations:  # really moved
                e.deviations = (replace(e.deviations[0], z=e.deviations[0].z * 2),
                                *e.deviations[1:])
            elif what == 2:
                e.onset -= 30.0
            elif what == 3:
                e.kinds.add(rnd.choice(["change", "resource", "availability"]))
            else:
                e.alerts.add("B") if e.alerts else e.alerts.add("A")
        ev.update(_evidence(rnd, [n for n in rnd.sample(names, 2) if n not in ev]))
    assert memo_ranker._memo.hits > 0 and memo_ranker._memo.misses > 0


def test_the_memoised_functions_read_only_what_the_memo_compares() -> None:
    """profile, kind_onsets and rises must not depend on any evidence field outside
    ``READS``, nor on a deviation's ``ts``: if one starts to, the memo's key must grow."""
    rnd = random.Random(3)
    ev = _evidence(rnd, ["a", "b", "c", "d", "e", "f"])
    changed = {"node": "zz", "count": 99, "summary": "other", "inhibited": True,
               "firing": 7, "last_change": 1e9, "last_onset": 1e9}
    assert {f.name for f in fields(NodeEvidence)} == set(READS) | set(changed)
    for e in ev.values():
        before = (profile(e), kind_onsets(e), rises(e))
        other = copy.copy(e)
        for name, value in changed.items():
            setattr(other, name, value)
        other.deviations = tuple(replace(d, ts=d.ts + 1e6) for d in e.deviations)
        assert (profile(other), kind_onsets(other), rises(other)) == before


def test_memo_recomputes_changed_nodes_and_pairs_only() -> None:
    memo = RankMemo()
    d = Deviation("a", "latency", "latency", "latency", 2.0, 1.0, 9.0, 0.0, 10.0)
    ev = {"a": NodeEvidence("a", 0.0, 0.5, deviations=(d,)), "b": NodeEvidence("b", 0.0, 0.5)}
    memo.node_facts(ev, profile)
    assert memo.keep_pair("a", "b", "ab") == "ab" and memo.pair("a", "b") == "ab"
    ev["a"].deviations = (replace(d, ts=70.0),)  # seen again, unchanged
    memo.node_facts(ev, profile)
    assert memo.pair("a", "b") == "ab" and memo.misses == 2
    ev["a"].deviations = (replace(d, z=20.0),)  # moved further
    (prof,) = memo.node_facts(ev, profile)
    assert memo.pair("a", "b") is None and prof["a"] == profile(ev["a"])
    memo.keep_pair("a", "b", "ab2")
    memo.begin(("other", "parameters"))
    assert memo.pair("a", "b") is None


def test_memo_is_bounded_and_not_pickled() -> None:
    import pickle

    memo = RankMemo(max_nodes=10)
    for i in range(50):
        memo.node_facts({f"n{i}": NodeEvidence(f"n{i}", 0.0, 0.1)}, profile)
    assert len(memo._nodes) <= 11
    again = pickle.loads(pickle.dumps(memo))
    assert again.max_nodes == 10 and not again._nodes


def test_one_walk_reaches_what_the_walks_from_each_start_reach() -> None:
    for seed in range(5):
        g = _graph(60, seed)
        rnd = random.Random(seed)
        starts = [*rnd.sample(sorted(g), 5), "not-in-graph"]
        for hops in (0, 1, 3, 6):
            union: set[str] = set()
            for s in starts:
                union |= g.downstream_within(s, hops)
            assert g.downstream_of_all(starts, hops) == union


def test_window_reads_in_strength_order_as_it_changes() -> None:
    """``of`` and ``peak`` answer as sorting and maximising the live entries would, while
    entries arrive, are replaced and expire."""
    rnd = random.Random(5)
    w = DeviationWindow(horizon=600.0, max_entries=40)
    for step in range(200):
        node = f"n{rnd.randrange(6)}"
        fam = rnd.choice(["latency", "errors", "cpu", "mem"])
        since = step * 10.0 - rnd.choice([0.0, 700.0])
        w.observe([Deviation(node, fam, fam, "latency", 1.0, 0.1, rnd.uniform(1, 50), since,
                             step * 10.0, usual=rnd.choice([0.0, 2.0]))])
        if step % 37 == 0:
            w.expire(step * 10.0)
        lo, hi = step * 10.0 - rnd.uniform(0, 900), step * 10.0 + rnd.uniform(-300, 300)
        for n in (f"n{i}" for i in range(7)):
            live = [d for d, last in w._nodes.get(n, {}).values() if last >= lo and d.since <= hi]
            assert w.of(n, lo, hi) == tuple(sorted(live, key=lambda d: (-d.strength, d.family)))
            assert w.peak(n, lo, hi) == max((d.strength for d in live), default=0.0)


def test_with_onset_is_replace() -> None:
    d = Deviation("a", "f{x=1}", "f x", "errors", 3.0, 1.0, 7.0, 10.0, 20.0, bad=False,
                  usual=0.5, rise=2.5)
    assert [f.name for f in fields(Deviation)] == [
        "node", "family", "series", "kind", "value", "expected", "z", "since", "ts", "bad",
        "usual", "rise"]  # a new field must be carried by _with_onset too
    assert _with_onset(d, 5.0, 4.0) == replace(d, since=5.0, rise=4.0)
