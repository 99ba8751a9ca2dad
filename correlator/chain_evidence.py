"""What the chain ranking reads off one node's evidence: how strongly each kind of signal
moved (:func:`profile`), when (:func:`kind_onsets`), by how much in the series' own unit
(:func:`rises`), and the data's interval as the evidence shows it (:func:`resolution`).
They depend on nothing but the node, so the ranking's cache keeps them between rankings
(:mod:`correlator.rank_cache`), and the rule baseline shares them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

from correlator.types import NodeEvidence

#: Which kinds of signal on a callee can cause which kinds on its caller.
CAUSES: dict[str, frozenset[str]] = {
    "latency": frozenset({"latency"}),
    "errors": frozenset({"errors"}),
    "saturation": frozenset({"latency", "errors", "saturation"}),
    "other": frozenset({"other"}),
    "alert": frozenset(),
    # an outage or a change known only from its alert (a host down, a rollout) can break
    # anything that depends on it
    "outage": frozenset({"latency", "errors", "saturation", "other", "alert", "outage"}),
}

#: Kinds that count as a problem of the node itself (traffic moves are only support).
_PROBLEM_KINDS = frozenset(("latency", "errors", "saturation", "other", "alert", "outage"))


def profile(ev: NodeEvidence) -> dict[str, float]:
    """Strength per kind of signal: log-scaled |z| of the strongest bad family of that
    kind (a routine move, within the series' usual excursion, counts only as support, as
    traffic does). Alert classes count too: an outage or change alert is the strongest ``outage``
    entry (it explains anything depending on the node), a saturation alert a ``saturation``
    one. A node known only from symptom alerts (its series never deviated the harmful way in
    the window, or they are not tracked) gets one weak ``alert`` entry: it can be explained
    by a dependency but explains nothing itself, since nothing says which way it moved."""
    out: dict[str, float] = {}
    for d in ev.deviations:
        kind = d.kind if d.bad and not d.routine else "traffic"
        s = d.strength
        if s > out.get(kind, 0.0):
            out[kind] = s
    if "availability" in ev.kinds or "change" in ev.kinds:
        # an outage alert (down, crash, not ready) or a change event says more than any
        # series could: the strongest cause evidence there is
        out["outage"] = math.log1p(1000.0)
    elif ev.alerts and "resource" in ev.kinds and "saturation" not in out:
        out["saturation"] = math.log1p(4.0 + 10.0 * max(0.0, ev.score))
    if ev.alerts and out.keys().isdisjoint(_PROBLEM_KINDS):
        out["alert"] = math.log1p(1.0 + max(0.0, ev.score))
    return out


def kind_onsets(ev: NodeEvidence) -> dict[str, float]:
    """When each kind of signal of the node first moved (its ``alert`` entry: the node's
    onset), so that explanations are timed kind by kind."""
    out: dict[str, float] = {}
    for d in ev.deviations:
        kind = d.kind if d.bad and not d.routine else "traffic"
        if d.since < out.get(kind, math.inf):
            out[kind] = d.since
    out.setdefault("alert", ev.onset)
    return out


def rises(ev: NodeEvidence) -> dict[str, float]:
    """How far each kind of signal of the node moved, in the series' own unit: the largest
    move of any statistic among its harmful, non-routine deviations of that kind."""
    out: dict[str, float] = {}
    for d in ev.deviations:
        if d.bad and not d.routine:
            r = d.moved
            if r > out.get(d.kind, 0.0):
                out[d.kind] = r
    return out


def resolution(evidence: Iterable[NodeEvidence]) -> float:
    """The data's interval as the evidence shows it: the smallest gap between the distinct
    times at which deviations were seen (series are judged once per point, so their times
    fall on the scrape or aggregation grid); infinite when fewer than two times are seen.

    >>> from aiops.model.deviation import Deviation
    >>> def ev(n, since, ts):
    ...     d = Deviation(n, "latency", "latency", "latency", 1.0, 0.1, 9.0, since, ts)
    ...     return NodeEvidence(n, since, 0.5, deviations=(d,))
    >>> resolution([ev("a", 600.0, 1200.0), ev("b", 900.0, 1200.0)])
    300.0
    >>> resolution([ev("a", 600.0, 600.0)])
    inf
    """
    stamps = sorted({t for e in evidence for d in e.deviations for t in (d.since, d.ts)})
    return min((b - a for a, b in itertools.pairwise(stamps)), default=math.inf)
