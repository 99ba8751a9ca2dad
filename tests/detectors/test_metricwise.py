"""MetricwiseDetector: each signal by its own history, the signals' tails combined."""

from __future__ import annotations

import numpy as np
import pytest

from aiops.model import ConfigError
from detectors.base import SnapshotError
from detectors.metricwise import MetricwiseDetector, bonferroni_max, stouffer

STEP = 300.0


def _calm(n: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    daily = 0.2 * np.sin(2 * np.pi * t * STEP / 86400.0 + rng.uniform(0, 6, m))
    return 0.5 + daily + rng.normal(0, 0.02, (n, m))


def _score(det: MetricwiseDetector, x: np.ndarray) -> np.ndarray:
    return det.score_learn_many(["srv"] * x.shape[0], np.arange(x.shape[0]) * STEP, x)


def test_a_deviation_several_signals_share_fires_where_one_signal_alone_does_not() -> None:
    shared = _calm(1500, 12, 1)
    shared[1400:1406, :6] += 0.08  # four sigma on half the signals
    assert _score(MetricwiseDetector(), shared)[1400:1408].max() >= 0.5
    one = _calm(1500, 12, 1)
    one[1400:1406, 5] += 0.08  # the same on one signal: within what twelve signals show
    assert _score(MetricwiseDetector(), one)[1400:1408].max() < 0.3


def test_a_lone_spike_among_calm_signals_is_tempered_by_them() -> None:
    x = _calm(1500, 12, 2)
    x[1400:1402, 3] += 0.12  # six sigma on one signal of twelve, two intervals
    worst = _score(MetricwiseDetector(combine="max"), x)
    voted = _score(MetricwiseDetector(), x)
    assert worst[1400:1404].max() >= 0.5
    assert voted[1400:1404].max() < 0.3


def test_calm_signals_do_not_alarm_by_their_number() -> None:
    rng = np.random.default_rng(3)
    s = _score(MetricwiseDetector(), rng.normal(0, 1, (1200, 19)))
    assert (s[100:] >= 0.5).mean() < 0.002


def test_stouffer_is_exact_for_independent_normal_tails() -> None:
    # four signals each at a tail of 1e-5 (score 0.5): z = 4.265 each, sum / 2 = 8.53,
    # a tail of 7.4e-18 (surprise 17.1)
    assert stouffer(np.full((1, 4), 0.5))[0] == pytest.approx(0.9558, abs=1e-3)
    # p = 0.5 everywhere (score 0.0301) is z = 0: the entity is at p = 0.5 too
    assert stouffer(np.full((1, 19), 0.0301))[0] == pytest.approx(0.0301, abs=1e-3)
    assert bonferroni_max(np.full((1, 10), 0.2))[0] == pytest.approx(0.1, abs=1e-9)


def test_snapshot_keeps_the_combination_and_refuses_another() -> None:
    x = _calm(400, 5, 4)
    det = MetricwiseDetector()
    _score(det, x[:300])
    state = det.snapshot()
    again = MetricwiseDetector()
    again.restore(state)
    tail = x[300:]
    ts = np.arange(300, 400) * STEP
    assert np.array_equal(det.score_learn_many(["srv"] * 100, ts, tail),
                          again.score_learn_many(["srv"] * 100, ts, tail))
    with pytest.raises(SnapshotError):
        MetricwiseDetector(combine="max").restore(state)
    with pytest.raises(ConfigError):
        MetricwiseDetector(combine="mean")  # type: ignore[arg-type]
