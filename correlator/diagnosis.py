"""Diagnosis over every signal of an incident's neighbourhood, alerting or not.

The detect stage publishes compact deviation summaries (:class:`aiops.model.deviation.
Deviation`: the top deviating series families of a node per batch, each with its value,
expectation, robust z and the time it moved). :class:`DeviationWindow` keeps the strongest
one per (node, family) for ``horizon`` seconds of event time, bounded in size, so the
correlator can answer "what around this incident was abnormal, and since when?" without ever
reading raw metrics. When an incident is ranked, :func:`diagnose` adds every node that the
incident's nodes depend on (within ``reach`` hops) and that deviated in the window, plus their
direct callers, to the evidence the ranking strategy sees, and attaches each node's
deviations. A slow callee that never alerted can then be named as the cause.

>>> from aiops.model.deviation import Deviation
>>> from correlator.types import NodeEvidence
>>> from topology.graph import ServiceGraph
>>> g = ServiceGraph.from_edges([("web", "api"), ("api", "db")])
>>> w = DeviationWindow()
>>> w.observe([Deviation("db", "latency", "latency p95", "latency", 0.41, 0.03, 40.0,
...                      100.0, 100.0)])
>>> ev = diagnose({"web": NodeEvidence("web", 160.0, 0.9)}, g, w, at=160.0)
>>> sorted(ev), ev["db"].onset, ev["db"].deviations[0].value
(['db', 'web'], 100.0, 0.41)
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterable, Mapping

from aiops.model.deviation import Deviation
from correlator.edge_evidence import describe_edge, to_callees
from correlator.types import NodeEvidence
from topology.graph import ServiceGraph


class DeviationWindow:
    """The strongest recent deviation per (node, family), for ``horizon`` seconds.

    A family that keeps deviating keeps the time it first moved (``since``) and its peak; a
    new run of it that starts more than ``rejoin`` seconds after the old one was last seen
    (it came back to normal, then moved again) replaces the old one, a run that starts
    sooner is the same episode (the statistics of one family take turns: a p99 comes back
    as the p90 moves);
    entries not refreshed for ``horizon`` seconds of event time are dropped by
    :meth:`expire`; beyond ``max_entries`` the stalest entries go first, so memory is bounded
    whatever the input.
    """

    def __init__(self, horizon: float = 1800.0, max_entries: int = 200_000,
                 rejoin: float = 600.0) -> None:
        self.horizon = horizon
        self.rejoin = rejoin
        self.max_entries = max_entries
        self._nodes: dict[str, dict[str, tuple[Deviation, float]]] = {}
        self._size = 0
        self._newest = float("-inf")
        self.version = 0  # bumped by every observe: rankings made before it may be stale
        # node -> its entries strongest first, built when read and dropped when the node's
        # entries change: diagnosis reads hundreds of nodes per ranking, few of them changed
        self._ordered: dict[str, list[tuple[Deviation, float]]] = {}

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def observe(self, deviations: Iterable[Deviation]) -> None:
        for dev in to_callees(deviations):  # a call edge's latency/errors: the callee's
            self.version += 1
            self._ordered.pop(dev.node, None)
            fams = self._nodes.setdefault(dev.node, {})
            held = fams.get(dev.family)
            if held is None:
                self._size += 1
                fams[dev.family] = (dev, dev.ts)
            elif dev.since > held[1] + self.rejoin:
                # a new run of the family (the tracker starts ``since`` afresh after the
                # series came back) well after the old one ended: the old run is history
                fams[dev.family] = (dev, dev.ts)
            else:
                # the same episode: the family kept deviating, or one of its statistics
                # (a p90) started to move just as another (its p99) came back; its peak,
                # its first move and its largest rise stand
                old, last = held
                peak = dev if dev.strength >= old.strength else old
                since = min(old.since, dev.since)
                rise = max(old.rise, dev.rise)
                if peak.since != since or peak.rise != rise:
                    peak = _with_onset(peak, since, rise)
                fams[dev.family] = (peak, max(last, dev.ts))
            if dev.ts > self._newest:
                self._newest = dev.ts
        if self._size > self.max_entries:
            self.expire(self._newest, keep=self.max_entries * 3 // 4)

    def expire(self, now: float, keep: int | None = None) -> None:
        """Forget entries last refreshed before ``now - horizon`` (and, with ``keep``, the
        stalest beyond that many)."""
        horizon = now - self.horizon
        entries = [(last, node, fam) for node, fams in self._nodes.items()
                   for fam, (_, last) in fams.items()]
        drop = [e for e in entries if e[0] < horizon]
        if keep is not None and len(entries) - len(drop) > keep:
            live = sorted(e for e in entries if e[0] >= horizon)
            drop.extend(live[: len(live) - keep])
        for _, node, fam in drop:
            self._ordered.pop(node, None)
            fams = self._nodes[node]
            if fams.pop(fam, None) is not None:
                self._size -= 1
            if not fams:
                del self._nodes[node]

    def peak(self, node: str, lo: float = float("-inf"), hi: float = float("inf")) -> float:
        """The largest strength among the node's deviations live between ``lo`` and ``hi``
        (0 if none): :meth:`of` without building and sorting the list."""
        for d, last in self._entries(node):  # strongest first: the first live one
            if last >= lo and d.since <= hi:
                return d.strength
        return 0.0

    def of(self, node: str, lo: float = float("-inf"), hi: float = float("inf")
           ) -> tuple[Deviation, ...]:
        """The node's deviations that were live between ``lo`` and ``hi``, strongest first."""
        return tuple([d for d, last in self._entries(node) if last >= lo and d.since <= hi])

    def _entries(self, node: str) -> list[tuple[Deviation, float]]:
        """The node's (deviation, last seen) entries, strongest first (ties by family, which
        is unique per node: filtering this order is sorting the filtered entries)."""
        got = self._ordered.get(node)
        if got is None:
            fams = self._nodes.get(node)
            if not fams:
                return []
            got = sorted(fams.values(), key=lambda e: (-e[0].strength, e[0].family))
            self._ordered[node] = got
        return got


def _with_onset(dev: Deviation, since: float, rise: float) -> Deviation:
    """``dataclasses.replace(dev, since=since, rise=rise)``, built directly: the generic
    replace was a tenth of the cost of taking deviations in during a storm."""
    return Deviation(dev.node, dev.family, dev.series, dev.kind, dev.value, dev.expected,
                     dev.z, since, dev.ts, dev.bad, dev.usual, rise)


def diagnose(evidence: Mapping[str, NodeEvidence], graph: ServiceGraph | None,
             window: DeviationWindow, at: float, until: float | None = None, *,
             reach: int = 6, lookback: float = 900.0, lookahead: float = 900.0,
             max_extra: int = 32, neighbours: Mapping[str, NodeEvidence] | None = None
             ) -> dict[str, NodeEvidence]:
    """``evidence`` widened to the incident's deviating neighbourhood.

    Candidates are the incident's nodes, their siblings (other callees of their callers) and
    every node these depend on within ``reach`` hops that deviated between ``at - lookback``
    and ``until + lookahead`` (``at``: the incident's first alert, ``until``: its latest,
    default ``at``); the direct callers of a deviating candidate come along as context (they
    are what it explains). Alerting nodes keep their alert evidence and gain their
    deviations; quiet ones get evidence built from their deviations alone; at most
    ``max_extra`` of them (the strongest, then callers of those for context). Nodes folded
    in this way are never members: the incident's grouping is untouched. ``neighbours``
    (the quiet nodes of an earlier call) skips the search: a caller re-ranking often reuses
    them for a while.
    """
    lo, hi = at - lookback, (at if until is None else until) + lookahead
    out: dict[str, NodeEvidence] = {}
    for name, ev in evidence.items():
        devs = window.of(name, lo, hi)
        if not devs and not ev.deviations:
            out[name] = ev
            continue
        # the time it moved in this episode: an alert on the node may be an older one
        # (a series that kept firing), its deviations say when this problem began there
        moved = [d.since for d in devs if d.bad]
        widened = copy.copy(ev)  # the incident's own evidence is never changed
        widened.deviations = devs
        if moved:
            widened.onset = min(moved)
        out[name] = widened
    if graph is None or not window:
        return out
    if neighbours is not None:
        out.update((n, e) for n, e in neighbours.items() if n not in out)
        return out
    # what the incident's nodes depend on, and what sits beside them: a fault is often
    # seen first on a caller-side view of a call (a load balancer, a client span) that is
    # a sibling of the service at fault (another callee of the same caller), not above it
    members = {n for n in evidence if n in graph}
    siblings: set[str] = set()
    for name in members:
        for caller in graph.callers(name):
            siblings.update(graph.callees(caller))
    deviating = set(window.nodes()) - out.keys()
    if len(members) * 8 < len(deviating):  # walk down from the few members
        found = sorted(deviating & (siblings | graph.downstream_of_all(members | siblings, reach)))
    else:  # walk up from the few deviating nodes
        anchors = members | siblings
        found = sorted(n for n in deviating if n in graph and (
            n in siblings or not anchors.isdisjoint(graph.upstream_within(n, reach))))
    peaks = {n: p for n in found if (p := window.peak(n, lo, hi)) > 0.0}
    if len(peaks) > max_extra:  # the strongest first: ranking cost stays bounded
        peaks = dict(heapq.nsmallest(max_extra, peaks.items(), key=lambda kv: (-kv[1], kv[0])))
    extra = {n: window.of(n, lo, hi) for n in sorted(peaks)}
    room = max_extra - len(extra)
    for name in sorted({c for n in extra for c in graph.callers(n)} - out.keys() - set(extra)):
        if room <= 0:
            break
        devs = window.of(name, lo, hi)
        if devs:
            out[name] = quiet_evidence(name, devs)
            room -= 1
    for name, devs in extra.items():
        out[name] = quiet_evidence(name, devs)
    return out


def quiet_evidence(node: str, devs: tuple[Deviation, ...]) -> NodeEvidence:
    """Evidence of a node that raised no alert, from its deviations alone (rankings that
    read deviations describe them with :func:`describe` when they report the node)."""
    onset = min(d.since for d in devs)
    top = devs[0]
    return NodeEvidence(node=node, onset=onset, score=min(1.0, top.strength / 10.0),
                        kinds={"resource" if top.kind == "saturation" else "symptom"},
                        firing=0, last_change=onset, last_onset=onset, deviations=devs)


def fmt_value(x: float) -> str:
    """Three significant digits, plain.

    >>> fmt_value(0.41), fmt_value(0.0301), fmt_value(1234.5)
    ('0.41', '0.0301', '1.23e+03')
    """
    return f"{x:.3g}"


def describe(dev: Deviation) -> str:
    """One line a responder can weigh: series, value, expectation, factor, time it moved.

    >>> describe(Deviation("catalog", "latency", "latency p95", "latency", 0.41, 0.03, 40.0,
    ...                    57_000.0, 57_000.0))
    'catalog: latency p95 0.41 vs 0.03 expected (13.7x) from 15:50'
    """
    import time

    ratio = dev.ratio()
    factor = f" ({ratio:.1f}x)" if ratio is not None and (ratio >= 1.1 or ratio <= 0.9) \
        else f" (z {dev.z:+.1f})"
    when = time.strftime("%H:%M", time.gmtime(dev.since))
    head, series, unit = describe_edge(dev) or (dev.node, dev.series, "")
    return (f"{head}: {series} {fmt_value(dev.value)}{unit} vs {fmt_value(dev.expected)}{unit} "
            f"expected{factor} from {when}")
