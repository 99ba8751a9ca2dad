"""The alert policy: when a stream of scores becomes a firing alert and when it resolves.

Scoring and deciding are kept apart (River's ``ThresholdFilter`` idea): detectors say how
odd a point is, the policy says whether a person should hear about it. It is the part SREs
tune, so each knob is one they know from Prometheus and Nagios:

* ``threshold`` starts a pending alert; ``clear_threshold`` (lower) is the hysteresis band
  that keeps a firing alert firing, so a score that wobbles around the threshold does not
  fire and resolve on every point;
* ``for_count`` / ``for_seconds``: the score must stay above the threshold this many
  consecutive points *and* this long before the alert fires (Prometheus ``for:``);
* ``resolve_count``: this many consecutive points below ``clear_threshold`` resolve it;
* ``cooldown_seconds``: after a resolve the same series may not fire again this soon;
* flap damping: a series that fired ``max_flaps`` times within ``flap_window_seconds`` is
  flapping; it then resolves only after ``flap_hold_seconds`` without a high score.

>>> tracker = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=2,
...                                     resolve_count=1))
>>> [tracker.step("s", float(t), s) for t, s in enumerate([0.95, 0.95, 0.7, 0.2])]
[None, 'fire', None, 'resolve']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from aiops.model import ConfigError

Transition = Literal["fire", "resolve"]


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Thresholds and timings that turn scores into alert transitions."""

    threshold: float = 0.999
    clear_threshold: float = 0.99
    for_count: int = 3
    for_seconds: float = 0.0
    resolve_count: int = 5
    cooldown_seconds: float = 0.0
    max_flaps: int = 4
    flap_window_seconds: float = 3600.0
    flap_hold_seconds: float = 900.0
    critical_threshold: float = 0.99999

    def __post_init__(self) -> None:
        if not 0.0 <= self.clear_threshold <= self.threshold <= 1.0:
            raise ConfigError("need 0 <= clear_threshold <= threshold <= 1",
                              source="alert policy")
        if self.for_count < 1 or self.resolve_count < 1:
            raise ConfigError("for_count and resolve_count must be >= 1", source="alert policy")


@dataclass(slots=True)
class SeriesState:
    """Where one series is in the pending -> firing -> resolved cycle."""

    pending: int = 0
    pending_since: float = 0.0
    firing: bool = False
    fired_at: float = 0.0
    below: int = 0
    last_high_ts: float = float("-inf")
    resolved_at: float = float("-inf")
    peak: float = 0.0
    fires: deque[float] = field(default_factory=deque)

    @property
    def active(self) -> bool:
        return self.firing or self.pending > 0


class PolicyTracker:
    """Applies an :class:`AlertPolicy` to per-series scores in event order."""

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._state: dict[Hashable, SeriesState] = {}

    @property
    def tracked(self) -> Mapping[Hashable, SeriesState]:
        """Series with live policy state (pending, firing, or in cooldown/flap memory)."""
        return self._state

    def state(self, key: Hashable) -> SeriesState | None:
        return self._state.get(key)

    def is_active(self, key: Hashable) -> bool:
        st = self._state.get(key)
        return st is not None and st.active

    def active_keys(self) -> list[Hashable]:
        return [k for k, st in self._state.items() if st.firing]

    def flapping(self, key: Hashable, ts: float) -> bool:
        st = self._state.get(key)
        if st is None:
            return False
        horizon = ts - self.policy.flap_window_seconds
        return sum(1 for t in st.fires if t >= horizon) >= self.policy.max_flaps

    def step(self, key: Hashable, ts: float, score: float) -> Transition | None:
        """Feed one score; return ``'fire'`` or ``'resolve'`` when the alert changes."""
        p = self.policy
        st = self._state.get(key)
        if st is None:
            if score < p.threshold:
                return None
            st = self._state[key] = SeriesState()
        if score >= p.clear_threshold:
            st.last_high_ts = ts
        if st.firing:
            st.peak = max(st.peak, score)
            if score >= p.clear_threshold:
                st.below = 0
                return None
            st.below += 1
            if st.below < p.resolve_count:
                return None
            if self.flapping(key, ts) and ts - st.last_high_ts < p.flap_hold_seconds:
                return None
            st.firing = False
            st.below = 0
            st.pending = 0
            st.resolved_at = ts
            return "resolve"
        if score < p.threshold:
            st.pending = 0
            if ts - st.resolved_at > max(p.cooldown_seconds, p.flap_window_seconds):
                del self._state[key]
            return None
        if st.pending == 0:
            st.pending_since = ts
            st.peak = 0.0
        st.pending += 1
        st.peak = max(st.peak, score)
        if st.pending < p.for_count or ts - st.pending_since < p.for_seconds:
            return None
        if ts - st.resolved_at < p.cooldown_seconds:
            return None
        st.firing = True
        st.fired_at = st.pending_since
        st.below = 0
        st.fires.append(ts)
        horizon = ts - p.flap_window_seconds
        while st.fires and st.fires[0] < horizon:
            st.fires.popleft()
        return "fire"

    def forget(self, key: Hashable) -> None:
        self._state.pop(key, None)
