"""AlertPolicy: hysteresis, for:, resolve count, cooldown and flap damping."""

from __future__ import annotations

import pytest

from aiops.model import ConfigError
from detectors.policy import AlertPolicy, PolicyTracker


def _feed(tracker: PolicyTracker, scores: list[float], t0: float = 0.0,
          step: float = 60.0) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for i, s in enumerate(scores):
        change = tracker.step("k", t0 + i * step, s)
        if change:
            out.append((t0 + i * step, change))
    return out


def test_hysteresis_keeps_a_wobbling_alert_firing() -> None:
    tr = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1,
                                   resolve_count=1))
    assert _feed(tr, [0.95, 0.6, 0.92, 0.7, 0.55, 0.3]) == [(0.0, "fire"), (300.0, "resolve")]


def test_for_seconds_needs_the_score_high_long_enough() -> None:
    tr = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1,
                                   for_seconds=180, resolve_count=1))
    assert _feed(tr, [0.95, 0.95, 0.95, 0.2]) == []
    assert _feed(tr, [0.95] * 5, t0=1000.0) == [(1180.0, "fire")]
    assert tr.state("k") is not None and tr.state("k").fired_at == 1000.0  # type: ignore[union-attr]


def test_cooldown_blocks_an_immediate_refire() -> None:
    tr = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1,
                                   resolve_count=1, cooldown_seconds=600))
    events = _feed(tr, [0.95, 0.1, 0.95, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.95])
    assert [e for _, e in events] == ["fire", "resolve", "fire"]
    assert events[-1][0] == 720.0


def test_flapping_series_is_held_firing() -> None:
    policy = AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1, resolve_count=1,
                         max_flaps=3, flap_window_seconds=3600, flap_hold_seconds=600)
    tr = PolicyTracker(policy)
    events = _feed(tr, [0.95, 0.1] * 6)
    fires = [t for t, e in events if e == "fire"]
    resolves = [t for t, e in events if e == "resolve"]
    assert len(fires) == 3          # the third fire makes it flapping ...
    assert len(resolves) == 2       # ... and it is no longer resolved on every dip
    later = _feed(tr, [0.1] * 12, t0=720.0)
    assert [e for _, e in later] == ["resolve"]


def test_policy_validates_its_knobs() -> None:
    with pytest.raises(ConfigError):
        AlertPolicy(threshold=0.5, clear_threshold=0.9)
    with pytest.raises(ConfigError):
        AlertPolicy(for_count=0)


def test_a_pending_run_is_judged_against_the_range_at_its_start() -> None:
    # the detector learns the fault's first point and widens its range to take it in:
    # the run goes on being judged against the range from before the fault
    tr = PolicyTracker(AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=2))
    assert tr.step("k", 0.0, 0.95, value=10.0, low=0.0, high=2.0) is None
    assert tr.step("k", 1.0, 0.95, value=10.0, low=0.0, high=12.0) == "fire"


def test_a_change_within_the_signal_resolution_is_not_an_alert() -> None:
    policy = AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1, resolve_count=1)
    gauge = PolicyTracker(policy)  # a count of processes, flat at 1 for its whole history
    assert gauge.step("k", 0.0, 0.99, value=2.0, low=1.0, high=1.0, resolution=1.0) is None
    assert gauge.step("k", 1.0, 0.99, value=3.0, low=1.0, high=1.0, resolution=1.0) == "fire"


def test_a_counting_signal_is_judged_against_the_shot_noise_of_its_count() -> None:
    # an idle CPU's user time at a 250 ms scrape: about one 0.01 s tick per scrape
    policy = AlertPolicy(threshold=0.9, clear_threshold=0.5, for_count=1, resolve_count=2)
    tr = PolicyTracker(policy)
    ticks = [tr.step("k", float(t), 0.99, value=0.04 * n, low=0.04, high=0.04,
                     resolution=0.04, counting=True) for t, n in enumerate([0, 2, 3, 4])]
    assert ticks == [None] * 4  # up to three ticks more than usual: the count's noise
    assert tr.step("k", 4.0, 0.99, value=1.0, low=0.04, high=0.04, resolution=0.04,
                   counting=True) == "fire"  # busy
    # firing, judged against its held range with the same noise: back to 0-2 ticks resolves
    assert tr.step("k", 5.0, 0.0, value=0.08, low=0.0, high=1.0, resolution=0.04,
                   counting=True) is None
    assert tr.step("k", 6.0, 0.0, value=0.0, low=0.0, high=1.0, resolution=0.04,
                   counting=True) == "resolve"
    # the same values with no resolution known are alerts
    bare = PolicyTracker(policy)
    assert bare.step("k", 0.0, 0.99, value=0.12, low=0.04, high=0.04) == "fire"
