"""Ranking by propagation chains over deviation evidence (strategy ``chain``).

A fault spreads from a callee to its callers, and it spreads *as a kind of signal*: a slow
callee makes its callers slow, a failing one makes them fail, a saturated one makes them slow
or fail. (A failing callee can slow callers that retry, but taking that link let every
chronic error on a leaf "explain" any slow caller on PetShop's development split.) So for each
node that deviates (see
:mod:`correlator.diagnosis`):

* it is **explained** when a callee it depends on (within ``hops``) deviated in a kind that
  can cause its own, no later than ``tolerance`` after it moved (a remote view, a leaf only
  one caller reaches, may also be explained by a sibling service: see
  :mod:`correlator.remote_views`): then it is more likely an effect, and its score is
  discounted by ``discount`` times the share of its problem that a callee which moved within
  one interval of it accounts for;
* it **covers** the deviating nodes it explains, transitively up the callers and carrying
  the kind of signal along (the propagation chain that MicroHECL-style analyses walk, read
  from the cause's side): a cause that explains the incident's alerting nodes (each worth
  ``member_weight`` quiet ones: they are what the responder is looking at) and their
  deviating neighbours ranks above a leaf that explains one of them. Each node covered
  counts for the share of its problem explained (the strength of the kinds explained over
  its strongest kind): a database that explains a service's slower answers covers little of
  a service whose failures, its strongest signal, nothing explains;
* its own **strength** is the log-scaled robust z of its strongest bad-direction family
  (families count once; traffic moves count only as support);
* a node that moved more than one interval of the data (read from the deviations' times,
  at least ``grace`` and at most ``lead`` seconds) before the incident's newest alert is
  aging: a cause and its effects show within one point of each other, so it looks more like
  a standing condition than the cause of what is happening now, and its score decays with
  that age (over ``stale_scale``); it cannot explain effects that began more than ``lead``
  after it (a tail statistic of the cause can cross a point before its callers' do).

Without any deviation evidence (alerts only, e.g. from Alertmanager with no metrics stream)
it ranks as :class:`correlator.ranking.CompositeRanker` does.

The deepest deviating node first (:mod:`correlator.rank_deepest`) is the special case with
no discount weighting and no coverage; this strategy keeps that rule's strength (a node whose
callees are quiet is preferred) while breaking its ties with coverage, which is what tells a
real callee from a sibling "remote" view of the same call.

>>> from aiops.model.deviation import Deviation
>>> from correlator.types import NodeEvidence
>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("web", "catalog"), ("web", "ads"), ("mobile", "catalog")])
>>> def dev(node, z, since):
...     return Deviation(node, "latency", "latency p95", "latency", 0.41, 0.03, z, since,
...                      since)
>>> ev = {n: NodeEvidence(n, s, 0.5, deviations=(dev(n, z, s),))
...       for n, z, s in [("web", 30.0, 120.0), ("catalog", 12.0, 60.0),
...                       ("mobile", 8.0, 120.0), ("ads", 9.0, 120.0)]}
>>> [c.service for c in ChainRanker().rank(ev, g)][:2]
['catalog', 'ads']
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Mapping

from aiops.model import RootCause
from correlator.chain_evidence import CAUSES, kind_onsets, profile, resolution, rises
from correlator.diagnosis import describe
from correlator.rank_cache import RankMemo
from correlator.rank_composite import CompositeRanker
from correlator.remote_views import behind_views
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


class ChainRanker:
    """Deviating callees that explain deviating callers first (see the module docstring)."""

    name = "chain"

    def __init__(self, limit: int = 5, hops: int = 1, tolerance: float = 300.0,
                 discount: float = 0.5, w_strength: float = 0.5, w_cover: float = 0.5,
                 member_weight: float = 4.0, lead: float = 600.0,
                 stale_scale: float = 900.0, walk_limit: int = 32, share: float = 0.1,
                 grace: float = 300.0) -> None:
        self.limit = limit
        self.hops = hops
        self.tolerance = tolerance
        self.discount = discount
        self.w_strength = w_strength
        self.w_cover = w_cover
        self.member_weight = member_weight
        self.lead = lead
        self.stale_scale = stale_scale
        self.walk_limit = walk_limit
        self.share = share
        self.grace = grace
        self._alerts_only = CompositeRanker(limit=limit)
        self._memo = RankMemo()  # per-node and per-pair results between rankings

    def _explains(self, pc: Mapping[str, float], mc: Mapping[str, float],
                  pe: Mapping[str, float], me: Mapping[str, float],
                  rc: Mapping[str, float], re: Mapping[str, float], lead: float,
                  grace: float) -> tuple[float, frozenset[tuple[str, str]]]:
        """How strongly a cause (a dependency of the effect) explains it, and which of its
        kinds explain which of the effect's: a kind of the cause that can produce a kind of
        the effect, having moved between ``lead`` before and ``tolerance`` after it (each
        kind timed on its own: a node's errors may be older than its latency). A callee
        explains its caller's latency only if it gained a share of it: its own latency rose
        by at least ``share`` of the caller's rise (``rc``/``re``: rises per kind). A
        database 3 ms slower does not explain a caller 500 ms slower, however many MADs the
        3 ms are on a flat series; at a coarse resolution, where both moved in the same
        interval, this is what tells the cause from the callee it also slowed.

        How strongly: the share of the effect's problem the cause accounts for, at most 1.
        Latency explains latency by its share of the rise (both in seconds: a callee whose
        p99 rose 9.8 s accounts for nearly all of a caller's 10 s); other kinds by the ratio
        of strengths. Either is weighed by how much of the effect's problem that kind is
        (its strength over the effect's strongest kind)."""
        best = 0.0
        worst = max((v for k, v in pe.items() if k != "traffic"), default=0.0)
        pairs: set[tuple[str, str]] = set()
        for kc, s in pc.items():
            effects = CAUSES.get(kc)
            if not effects:
                continue
            moved_c = mc.get(kc, mc["alert"])  # kinds read from alerts: the node's onset
            for ke in effects:
                if ke not in pe:
                    continue
                if kc == ke == "latency" and kc in rc and ke in re \
                        and rc[kc] < self.share * re[ke]:
                    continue
                moved_e = me.get(ke, me["alert"])
                if moved_e - lead <= moved_c <= moved_e + self.tolerance:
                    pairs.add((kc, ke))
                    if moved_c < moved_e - grace:
                        continue  # it already deviated while the effect was normal: it
                        # covers the effect, but too loosely to make it look like an effect
                    if kc == ke == "latency" and rc.get(kc, 0.0) > 0 and re.get(ke, 0.0) > 0:
                        part = rc[kc] / re[ke]
                    else:
                        part = s / pe[ke] if pe[ke] > 0 else 1.0
                    best = max(best, min(1.0, part) * (pe[ke] / worst if worst > 0 else 1.0))
        return best, frozenset(pairs)

    def rank(self, evidence: Mapping[str, NodeEvidence],
             graph: ServiceGraph | None) -> list[RootCause]:
        if not any(e.deviations for e in evidence.values()):
            # alerts alone (no deviation summaries reach the correlator): nothing says which
            # way a series moved, so the alert-based blend ranks
            return self._alerts_only.rank(evidence, graph)
        live = {n: e for n, e in evidence.items() if not e.inhibited} or dict(evidence)
        prof, moved, rise = self._memo.node_facts(evidence, profile, kind_onsets, rises)
        strength = {n: max((s for k, s in prof[n].items() if k != "traffic"), default=0.0)
                    for n in live}
        cands = [n for n in sorted(live) if strength[n] > 0.0] or sorted(live)
        # explains[c] = effects c explains; explained[e] = strongest explanation of e
        # one interval of the data (at least ``grace``): a cause and its effects show within
        # one point of each other
        grace = min(self.lead, max(self.grace, resolution(evidence.values())))
        explains: dict[str, list[tuple[str, frozenset[tuple[str, str]]]]] = {
            n: [] for n in evidence}
        explained: dict[str, tuple[float, str]] = {}
        # every input of ``_explains`` besides the two nodes' evidence
        self._memo.begin((self.lead, self.tolerance, self.share, grace))
        if graph is not None:
            views = behind_views(graph, evidence)
            for eff in sorted(evidence):
                if eff not in graph or not any(k != "traffic" for k in prof[eff]):
                    continue
                below = self._memo.below(graph, eff, self.hops)
                beside = views.get(eff)
                for cause in sorted(set(below).union(beside)) if beside else below:
                    if cause == eff or cause not in evidence:
                        continue
                    hit = self._memo.pair(cause, eff)
                    s, pairs = hit if hit is not None else self._memo.keep_pair(
                        cause, eff, self._explains(prof[cause], moved[cause], prof[eff],
                                                   moved[eff], rise[cause], rise[eff],
                                                   self.lead, grace))
                    if not pairs:
                        continue
                    explains[cause].append((eff, pairs))
                    if s > explained.get(eff, (0.0, ""))[0]:
                        explained[eff] = (s, cause)
        # the incident's newest symptom: a node that moved long before it (more than
        # ``lead``) is a standing condition more than part of what is happening now
        newest = max((e.onset for e in evidence.values() if e.alerts), default=None)

        def fresh(n: str) -> float:
            if newest is None:
                return 1.0
            age = newest - grace - evidence[n].onset
            return math.exp(-age / self.stale_scale) if age > 0 else 1.0

        freshness = {n: fresh(n) for n in evidence}
        weight = {n: (self.member_weight if e.alerts else 1.0) * freshness[n]
                  for n, e in evidence.items()}
        # what each candidate explains directly; the transitive walk for the most promising
        # ones only (a big incident has hundreds of deviating nodes; the walks are quadratic)
        worst = {n: max((v for k, v in p.items() if k != "traffic"), default=0.0)
                 for n, p in prof.items()}

        def credit(node: str, kinds: Iterable[str]) -> float:
            """An effect's weight times the share of its problem the cause explains: a
            database that explains a service's slower answers covers little of a service
            whose failures (its strongest signal) nothing explains."""
            top = worst[node]
            got = max((prof[node].get(k, 0.0) for k in kinds), default=0.0)
            return weight[node] * (min(1.0, got / top) if top > 0 else 1.0)

        cover = {c: sum(credit(e, {ke for _, ke in pairs}) for e, pairs in explains[c])
                 for c in cands}
        chains: dict[str, list[str]] = {c: sorted({e for e, _ in explains[c]}) for c in cands}
        walked = cands
        if len(cands) > self.walk_limit:
            top_s0 = max(strength[c] for c in cands) or 1.0
            top_c0 = max(cover.values()) or 1.0
            walked = heapq.nsmallest(self.walk_limit, cands, key=lambda c: (
                -(self.w_strength * strength[c] / top_s0 + self.w_cover * cover[c] / top_c0)
                * freshness[c], c))
        for c, seen in self._walks(walked, explains, prof).items():
            chains[c] = sorted(seen)
            cover[c] = sum(credit(n, kinds) for n, kinds in seen.items())
        top_s = max((strength[c] for c in cands), default=0.0) or 1.0
        top_c = max(cover.values(), default=0.0) or 1.0
        total: dict[str, float] = {}
        for c in cands:
            base = self.w_strength * strength[c] / top_s + self.w_cover * cover[c] / top_c
            by = explained.get(c)
            if by is not None and strength[c] > 0:
                base *= 1.0 - self.discount * by[0]
            total[c] = base * freshness[c]
        order = sorted(cands, key=lambda c: (-total[c], evidence[c].onset, c))
        out: list[RootCause] = []
        for c in order[: self.limit]:
            callers = set(graph.callers(c)) if graph is not None and c in graph else set()
            out.append(RootCause(c, round(total[c], 4), self._explain(
                evidence[c], chains[c], explained.get(c), evidence, prof, callers)))
        return out

    @staticmethod
    def _walks(causes: list[str],
               explains: Mapping[str, list[tuple[str, frozenset[tuple[str, str]]]]],
               prof: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, set[str]]]:
        """Per cause, the deviating nodes it explains, transitively up the callers,
        carrying the kinds of signal along: a slow callee explains a caller's latency, and
        through it its callers' latency, never a failure further up.

        Each node reached comes with the kinds of its signal the cause explains there.
        All causes walk in one pass: per node and kind, the causes that reach it carrying
        that kind, as a bit mask, grown until nothing changes (a step passes on only the
        causes new at its node, coalesced while it waits). A big incident's 32 candidates
        walk the same explanation edges; one by one each walk was a full traversal."""
        bit = {c: 1 << i for i, c in enumerate(causes)}
        reach: dict[str, dict[str, int]] = {}
        # (node, kind) -> causes arrived there not passed on yet; coalesced while queued
        pending: dict[tuple[str, str], int] = {}
        todo: deque[tuple[str, str]] = deque()  # breadth first: arrivals coalesce more
        for c in causes:
            kinds = reach.setdefault(c, {})
            for k in prof[c]:
                if k in CAUSES:
                    kinds[k] = kinds.get(k, 0) | bit[c]
                    if (c, k) not in pending:
                        todo.append((c, k))
                    pending[(c, k)] = pending.get((c, k), 0) | bit[c]
        while todo:
            key = todo.popleft()
            new = pending.pop(key)
            node, kind = key
            for eff, pairs in explains[node]:
                add = new & ~bit.get(eff, 0)  # a walk never passes through its own cause
                if not add:
                    continue
                for kc, ke in pairs:
                    if kc != kind:
                        continue
                    held = reach.setdefault(eff, {})
                    have = held.get(ke, 0)
                    gain = add & ~have
                    if gain:
                        held[ke] = have | gain
                        nxt = (eff, ke)
                        queued = pending.get(nxt)
                        if queued is None:
                            pending[nxt] = gain
                            todo.append(nxt)
                        else:
                            pending[nxt] = queued | gain
        by_bit = {b: c for c, b in bit.items()}
        out: dict[str, dict[str, set[str]]] = {c: {} for c in causes}
        for node, kinds in reach.items():
            own = bit.get(node, 0)
            for kind, mask in kinds.items():
                mask &= ~own
                while mask:
                    low = mask & -mask
                    out[by_bit[low]].setdefault(node, set()).add(kind)
                    mask ^= low
        return out

    @staticmethod
    def _explain(ev: NodeEvidence, chain: list[str], by: tuple[float, str] | None,
                 evidence: Mapping[str, NodeEvidence], prof: Mapping[str, Mapping[str, float]],
                 callers: set[str]) -> tuple[str, ...]:
        lines: list[str] = []
        if ev.deviations:
            lines.append(describe(ev.deviations[0]))
            more = [d.series for d in ev.deviations[1:3]]
            if more:
                lines.append(f"{ev.node}: also {', '.join(more)}")
        if ev.alerts:
            lines.append(f"{ev.node}: alerts {', '.join(sorted(ev.alerts))}")
        if chain:
            lags = [evidence[n].onset - ev.onset for n in chain]
            lo, hi = min(lags) / 60.0, max(lags) / 60.0
            span = f"{lo:.0f} min" if abs(hi - lo) < 1 else f"{lo:.0f}-{hi:.0f} min"
            names = ", ".join(chain[:4]) + (", ..." if len(chain) > 4 else "")
            who = "caller" if set(chain) <= callers else "dependent"
            kinds = {k for n in chain for k in prof[n] if k != "traffic"}
            verb = "slowed" if kinds == {"latency"} else "failed" if kinds == {"errors"} \
                else "deviated"
            plural = "s" if len(chain) > 1 else ""
            lines.append(f"its {len(chain)} {who}{plural} {verb} {span} later: {names}")
        if by is None:
            lines.append(f"no deviating dependency of {ev.node} explains it")
        else:
            lines.append(f"partly explained by its dependency {by[1]}")
        return tuple(lines)

