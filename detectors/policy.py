"""The alert policy: when a stream of scores becomes a firing alert and when it resolves.

Scoring and deciding are kept apart (River's ``ThresholdFilter`` idea): detectors say how
odd a point is, the policy says whether a person should hear about it. It is the part SREs
tune, so each knob is one they know from Prometheus and Nagios:

* ``threshold`` starts a pending alert, for a value outside the range the detector expected
  by more than ``min_relative_change`` of its level and by more than the signal's
  measurement noise (below); the relative floor is waived for a series that has been
  constant (an expected range with no spread, :func:`flat_range`): any step off its
  constant beyond its resolution is a change of state, at 100 as at 0 (an availability
  that never left 100 % dropping to 97 %);
* ``clear_threshold`` (lower) is the band that keeps a firing alert firing, so a score
  that wobbles around the threshold does not fire and resolve on every point;
* ``for_count`` / ``for_seconds``: the score must stay above the threshold this many
  consecutive points *and* this long before the alert fires (Prometheus ``for:``); every
  point of the pending run is judged against the range expected at the run's start, as a
  firing alert is against its held range: a detector that already learns the fault's first
  points must not talk the run out of its own evidence;
* measurement noise: a signal's ``resolution`` (the quantum its values move in, from
  :mod:`detectors.semantics`) widens every range to at least one quantum each side, so a
  change within resolution (a count of processes one up, a load average one hundredth) is
  never an anomaly; a *counting* signal (a counter's rate: k increments of one quantum per
  interval) scatters like a count, by about ``sqrt(k)`` quanta, so its range is widened to
  ``shot_noise_sigmas`` of that at its level (an idle counter ticking 0, 1 or 2 times per
  scrape is noise, a CPU going from 5 % to 100 % busy is not);
* ``resolve_count``: this many consecutive points below ``clear_threshold`` resolve it;
* ``cooldown_seconds``: after a resolve the same series may not fire again this soon;
* flap damping: a series that fired ``max_flaps`` times within ``flap_window_seconds`` is
  flapping; it then resolves only after ``flap_hold_seconds`` without a high score;
* faults that last stay firing: while a series fires, the alerter scores it against the
  baseline held from before the fault (it does not learn the fault), so the alert resolves
  when the series is back near that baseline, when a person accepts the new level, or
  after ``accept_after_seconds`` (the fault became the new normal: ``'accept'``); a
  detector that adapted to the fault anyway does not raise the return to that range;
* escalation: a firing series whose deviation (distance from the held baseline, in widths
  of its expected range) reaches ``escalate_factor`` times the deviation it was raised at,
  for ``for_count`` points, is raised again as a new event (``'escalate'``), at most
  ``max_escalations`` times, so a second, larger fault is not lost in the first.

>>> tracker = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=2,
...                                     resolve_count=1))
>>> [tracker.step("s", float(t), s) for t, s in enumerate([0.95, 0.95, 0.7, 0.2])]
[None, 'fire', None, 'resolve']
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from aiops.model import ConfigError

Transition = Literal["fire", "resolve", "accept", "escalate"]


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
    accept_after_seconds: float = 86400.0
    min_relative_change: float = 0.05
    escalate_factor: float = 2.0
    max_escalations: int = 3
    shot_noise_sigmas: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.clear_threshold <= self.threshold <= 1.0:
            raise ConfigError("need 0 <= clear_threshold <= threshold <= 1",
                              source="alert policy")
        if self.for_count < 1 or self.resolve_count < 1:
            raise ConfigError("for_count and resolve_count must be >= 1", source="alert policy")
        if self.accept_after_seconds < 0 or self.escalate_factor <= 1.0:
            raise ConfigError("need accept_after_seconds >= 0 and escalate_factor > 1",
                              source="alert policy")
        if not self.shot_noise_sigmas >= 0.0:
            raise ConfigError("need shot_noise_sigmas >= 0", source="alert policy")


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
    low: float = math.nan  # the expected range when the alert began: the held baseline
    high: float = math.nan
    deviation: float = 0.0  # at the raise (or the last escalation); 0 when unknown
    escalations: int = 0
    escalating: int = 0

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

    def step(self, key: Hashable, ts: float, score: float, value: float = math.nan,
             low: float = math.nan, high: float = math.nan, resolution: float = math.nan,
             counting: bool = False) -> Transition | None:
        """Feed one score; return ``'fire'``, ``'resolve'``, ``'accept'`` or
        ``'escalate'`` when the alert changes.

        ``value`` and the range ``[low, high]`` the detector expected it in (NaN when
        unknown) let a firing alert be judged against the range held from before the
        fault: it stays firing while the value is outside that range, whatever the score.
        ``resolution`` and ``counting`` describe the signal's measurement noise (NaN and
        False: none known).
        """
        p = self.policy
        st = self._state.get(key)
        if st is None:
            if score < p.threshold or not self.meaningful(value, low, high, resolution,
                                                          counting):
                return None
            st = self._state[key] = SeriesState()
        held = self.noise(st.low, st.high, resolution, counting)
        if st.firing:
            dev = held_deviation(value, st.low, st.high, held)
            high_now = dev > 1.0 if dev == dev else score >= p.clear_threshold
            if high_now:
                st.last_high_ts = ts
            st.peak = max(st.peak, score)
            if p.accept_after_seconds and ts - st.fired_at >= p.accept_after_seconds:
                del self._state[key]
                return "accept"
            if high_now:
                st.below = 0
                return self._escalation(st, dev)
            st.escalating = 0
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
        if st.resolved_at > -math.inf and held_deviation(value, st.low, st.high, held) <= 1.0:
            score = 0.0  # back in the range held from before the last fault: its normal
        if st.pending:  # a run is judged against the range expected at its start
            low, high = st.low, st.high
        if score >= p.threshold and not self.meaningful(value, low, high, resolution,
                                                        counting):
            score = 0.0
        if score >= p.clear_threshold:
            st.last_high_ts = ts
        if score < p.threshold:
            st.pending = 0
            if ts - st.resolved_at > max(p.cooldown_seconds, p.flap_window_seconds):
                del self._state[key]
            return None
        if st.pending == 0:
            st.pending_since = ts
            st.peak = 0.0
            st.low, st.high = low, high  # the expected range before the fault
            st.deviation = 0.0
        st.pending += 1
        st.peak = max(st.peak, score)
        dev = held_deviation(value, st.low, st.high,
                             self.noise(st.low, st.high, resolution, counting))
        if dev == dev:
            st.deviation = max(st.deviation, dev)
        if st.pending < p.for_count or ts - st.pending_since < p.for_seconds:
            return None
        if ts - st.resolved_at < p.cooldown_seconds:
            return None
        st.firing = True
        st.fired_at = st.pending_since
        st.below = 0
        st.escalations = st.escalating = 0
        st.fires.append(ts)
        horizon = ts - p.flap_window_seconds
        while st.fires and st.fires[0] < horizon:
            st.fires.popleft()
        return "fire"

    def meaningful(self, value: float, low: float, high: float,
                   resolution: float = math.nan, counting: bool = False) -> bool:
        """Whether a high score is worth an alert: the value lies outside the range the
        detector expected, widened to the signal's measurement noise (:meth:`noise`), by
        more than ``min_relative_change`` of that range's level, unless that range has no
        spread at all (unknown ranges or values: yes). A score can be high for a value the
        detector itself expected (a post-processor reacting to a change of the score
        distribution), for a change too small to act on (a goroutine more, a scrape's
        jitter) or for one within what the measurement can tell (a counter's tick more in
        this interval than the last).

        >>> t = PolicyTracker(AlertPolicy())
        >>> t.meaningful(97.0, 100.0, 100.0), t.meaningful(97.0, 99.0, 101.0)  # flat; noisy
        (True, False)
        >>> t.meaningful(99.99, 100.0, 100.0, resolution=0.1)  # within its resolution
        False
        """
        if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
            return True
        if held_deviation(value, low, high, self.noise(low, high, resolution, counting)) <= 1:
            return False
        centre = (low + high) / 2.0
        if flat_range(low, high):
            # the series never moved: a step off its constant (beyond its resolution,
            # checked above) is a change of state, as any step off a flat zero already is
            return True
        return abs(value - centre) > self.policy.min_relative_change * abs(centre)

    def noise(self, low: float, high: float, resolution: float, counting: bool) -> float:
        """The half-width no range may be narrower than, for a signal that moves in steps
        of ``resolution``: one step, or for a counting signal ``shot_noise_sigmas`` times
        the scatter of the count expected in the middle of ``[low, high]``
        (``sqrt(k)`` steps for ``k`` steps per interval; at least one step).

        >>> tracker = PolicyTracker(AlertPolicy())
        >>> tracker.noise(0.0, 0.1, 0.04, False), round(tracker.noise(0.0, 0.1, 0.04, True), 3)
        (0.04, 0.134)
        >>> round(tracker.noise(0.8, 1.0, 0.04, True), 3)  # 22.5 ticks: 4.7 ticks' scatter
        0.569
        """
        if not resolution > 0.0:
            return 0.0
        if not counting:
            return resolution
        centre = abs(low + high) / 2.0 if math.isfinite(low + high) else 0.0
        return self.policy.shot_noise_sigmas * math.sqrt(max(centre, resolution) * resolution)

    def _escalation(self, st: SeriesState, dev: float) -> Transition | None:
        """A firing series outside its held range: ``'escalate'`` once a deviation
        ``escalate_factor`` times the one it was raised at has lasted ``for_count`` points."""
        p = self.policy
        if (math.isnan(dev) or st.deviation <= 0.0 or st.escalations >= p.max_escalations
                or dev < p.escalate_factor * st.deviation):
            st.escalating = 0
            return None
        st.escalating += 1
        if st.escalating < p.for_count:
            return None
        st.escalating = 0
        st.escalations += 1
        st.deviation = dev
        return "escalate"

    def accept(self, key: Hashable) -> bool:
        """A person accepted the series' current level: its alert ends (True if it fired)."""
        st = self._state.pop(key, None)
        return st is not None and st.firing

    def load(self, states: Mapping[Hashable, SeriesState]) -> None:
        """Replace the per-series state with ``states`` (a checkpoint of :attr:`tracked`)."""
        self._state = dict(states)

    def forget(self, key: Hashable) -> None:
        self._state.pop(key, None)


#: a range narrower than this share of its level is a point: float32, which detectors keep
#: their baselines in, holds about seven significant digits, so a spread below the sixth is
#: not a measured spread but none at all (the series has been constant)
FLAT_PRECISION = 1e-6


def flat_range(low: float, high: float) -> bool:
    """Whether ``[low, high]`` is a single value to the precision of its level: the
    detector saw no spread at all, the series has been constant.

    >>> flat_range(100.0 - 4e-7, 100.0 + 4e-7), flat_range(99.5, 100.5)
    (True, False)
    """
    centre = abs(low + high) / 2.0
    return high - low <= 2.0 * FLAT_PRECISION * max(1.0, centre)


def held_deviation(value: float, low: float, high: float, noise: float = 0.0) -> float:
    """How far ``value`` is from the middle of ``[low, high]``, in half-widths of it, the
    half-width at least ``noise`` (1 is the edge of the range; NaN when the range or the
    value is unknown).

    >>> held_deviation(15.0, 8.0, 12.0), held_deviation(10.0, 8.0, 12.0)
    (2.5, 0.0)
    >>> held_deviation(1.0, 0.0, 0.0, noise=1.0)  # one step off a flat line: within it
    1.0
    """
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(value)):
        return math.nan
    centre = (low + high) / 2.0
    half = max((high - low) / 2.0, noise, 1e-9 * max(1.0, abs(centre)))
    return abs(value - centre) / half
