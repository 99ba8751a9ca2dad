"""A series that never moved alerts on a step off its constant; a noisy one's same step not.

Two days of five-minute points, then three points 3 % down: an availability that sat at
exactly 100 % dropping to 97 % is an outage's first sign, while the same 3-point move on a
series that wanders by half a point is within its 5 %-of-level relative floor.
"""

from __future__ import annotations

import numpy as np

from aiops.model import MetricSample
from detectors import default_metric_alerter
from detectors.policy import AlertPolicy, PolicyTracker, flat_range

STEP = 300.0


def _alerts(values: np.ndarray) -> list[tuple[float, str]]:
    alerter = default_metric_alerter()
    out: list[tuple[float, str]] = []
    for i, v in enumerate(values.tolist()):
        sample = MetricSample("availability", {"service": "petlist"}, 1.7e9 + i * STEP, v)
        out.extend((a.starts_at, a.status.value) for a in alerter.process([sample]))
    return out


def _two_days_then(base: np.ndarray, drop: float) -> np.ndarray:
    values = base.copy()
    values[-5:-2] -= drop  # three points down, then back
    return values


def test_a_drop_off_a_flat_series_fires_and_resolves() -> None:
    n = 2 * 288 + 5
    got = _alerts(_two_days_then(np.full(n, 100.0), 3.0))
    assert [s for _, s in got] == ["firing"]
    assert got[0][0] == 1.7e9 + (n - 5) * STEP  # from the first point down


def test_the_same_drop_on_a_noisy_series_stays_quiet() -> None:
    n = 2 * 288 + 5
    noisy = 100.0 + np.random.default_rng(7).normal(0.0, 0.5, n)
    assert _alerts(_two_days_then(noisy, 3.0)) == []


def test_a_flat_series_still_ignores_a_step_within_its_resolution() -> None:
    tracker = PolicyTracker(AlertPolicy())
    assert tracker.meaningful(97.0, 100.0, 100.0)
    assert not tracker.meaningful(99.95, 100.0, 100.0, resolution=0.1)
    assert not tracker.meaningful(97.0, 99.0, 101.0)  # a spread: the relative floor holds


def test_flat_is_judged_relative_to_the_level() -> None:
    assert flat_range(1e6 - 0.5, 1e6 + 0.5)  # below the level's sixth digit
    assert not flat_range(-0.01, 0.01)
