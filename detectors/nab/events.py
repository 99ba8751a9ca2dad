"""Event-level precision and recall: what an on-call person sees, not what NAB's sweep sees.

NAB counts rows above a threshold; an SRE counts alerts. Here an *alert* is a ``fire``
transition of the engine's alert policy (:class:`~detectors.policy.PolicyTracker`) on a
series' scores. A labelled window counts as *found* when an alert fires inside it (its
fire time within ``[start, end]``); each alert that fires outside every window is a
*false positive*. Precision is the share of alerts inside some window, recall the share of
windows found.

>>> from detectors.policy import AlertPolicy
>>> p = AlertPolicy(threshold=0.5, clear_threshold=0.3, for_count=1, resolve_count=1)
>>> ts = np.arange(10.0)
>>> fires = policy_fires(ts, np.array([0, .9, .9, 0, 0, 0, .8, 0, 0, 0]), p)
>>> fires.tolist()
[1.0, 6.0]
>>> c = count_events(fires, [(0.0, 2.0), (8.0, 9.0)])
>>> (c.found, c.windows, c.false_alerts, c.alerts)
(1, 2, 1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detectors.policy import AlertPolicy, PolicyTracker

FloatArray = npt.NDArray[np.float64]


def policy_fires(ts: FloatArray, scores: FloatArray, policy: AlertPolicy,
                 deviations: FloatArray | None = None, held: float = 0.0) -> FloatArray:
    """Timestamps at which ``policy`` fires an alert on one series' scores (event order).

    Only points that can matter are stepped, as the engine's alerter does: scores at or
    above the clear threshold, and every point while the series is tracked. With
    ``deviations`` (each point's distance, held against ``+-held``) the policy may also
    escalate a firing series, and an escalation counts as an event: the engine raises it
    as a new alert.
    """
    tracker = PolicyTracker(policy)
    hot = np.flatnonzero(scores >= policy.clear_threshold)
    out: list[float] = []
    n = scores.shape[0]
    h = 0
    i = int(hot[0]) if hot.size else n
    sc = scores.tolist()
    tl = ts.tolist()
    dev = deviations.tolist() if deviations is not None else None
    while i < n:
        change = (tracker.step(0, tl[i], sc[i]) if dev is None
                  else tracker.step(0, tl[i], sc[i], dev[i], -held, held))
        if change == "fire" or change == "escalate":
            out.append(tl[i])
        if tracker.tracked:
            i += 1
            continue
        h = int(np.searchsorted(hot, i + 1, side="left"))
        i = int(hot[h]) if h < hot.size else n
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class EventCounts:
    """Windows found and alerts raised, summed over series."""

    windows: int = 0
    found: int = 0
    alerts: int = 0
    false_alerts: int = 0

    def __add__(self, other: EventCounts) -> EventCounts:
        return EventCounts(self.windows + other.windows, self.found + other.found,
                           self.alerts + other.alerts, self.false_alerts + other.false_alerts)

    @property
    def precision(self) -> float:
        return (self.alerts - self.false_alerts) / self.alerts if self.alerts else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.windows if self.windows else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def count_events(fires: FloatArray, windows: Sequence[tuple[float, float]]) -> EventCounts:
    """Windows with an alert inside, and alerts outside every window."""
    inside = np.zeros(fires.shape[0], dtype=bool)
    found = 0
    for start, end in windows:
        hit = (fires >= start) & (fires <= end)
        found += bool(hit.any())
        inside |= hit
    return EventCounts(len(windows), found, int(fires.shape[0]), int((~inside).sum()))


def total(counts: Iterable[EventCounts]) -> EventCounts:
    out = EventCounts()
    for c in counts:
        out = out + c
    return out
