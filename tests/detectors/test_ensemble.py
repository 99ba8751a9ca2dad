"""Behaviour of the ensemble detector and of each of its scorers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from aiops.model import ConfigError
from detectors.ensemble import SCORERS, EnsembleDetector
from detectors.scorers import (
    null_surprise_moments,
    point_surprise,
    robust_step,
    spread_z,
    young_z,
)

DAY = 86400.0


def _run(det: EnsembleDetector, values: np.ndarray, step: float = 300.0) -> np.ndarray:
    ts = np.arange(values.shape[0]) * step
    return det.score_learn_many(np.zeros(values.shape[0], dtype=np.int64), ts, values)


def _daily(n: int, rng: np.random.Generator, step: float = 300.0) -> np.ndarray:
    ts = np.arange(n) * step
    return 100 + 30 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, n)


@pytest.mark.parametrize("scorer", ["seasonal", "level", "rate"])
def test_each_location_scorer_flags_a_level_shift(scorer: str) -> None:
    rng = np.random.default_rng(1)
    v = 50 + rng.normal(0, 1, 1500)
    # the rate scorer sees a shift as one jump, and one point moves a short-term mean
    # only part of the way: it needs a larger jump than the location scorers
    v[1200:] += 25 if scorer == "rate" else 10
    s = _run(EnsembleDetector(scorers=(scorer,)), v)
    assert s[1200:1205].max() > 0.5
    assert np.percentile(s[300:1200], 99) < 0.5


def test_spread_scorer_flags_a_series_that_turns_noisy() -> None:
    rng = np.random.default_rng(2)
    v = 50 + rng.normal(0, 1, 1500)
    v[1200:] = 50 + rng.normal(0, 6, 300)
    s = _run(EnsembleDetector(scorers=("spread",)), v)
    assert s[1200:1240].max() > 0.5
    assert np.percentile(s[300:1200], 99) < 0.5


def test_daily_pattern_is_not_flagged_once_learnt() -> None:
    rng = np.random.default_rng(3)
    v = _daily(288 * 6, rng)
    s = _run(EnsembleDetector(), v)
    # day three on: the swing of +-30 is the daily profile, not an anomaly
    assert s[288 * 3:].max() < 0.5


def test_a_dip_inside_the_daily_range_is_flagged() -> None:
    rng = np.random.default_rng(4)
    v = _daily(288 * 6, rng)
    at = 288 * 5 + 72  # the daily peak of day six
    v[at:at + 3] -= 25  # still inside the day's range, far from this hour's normal
    s = _run(EnsembleDetector(), v)
    assert s[at:at + 4].max() > 0.5


def test_scores_from_the_first_points_with_wider_confidence_while_young() -> None:
    rng = np.random.default_rng(5)
    v = 10 + rng.normal(0, 1, 60)
    young = v.copy()
    young[25] = 17.0  # 7 sigma on the 26th point
    old = np.concatenate([10 + rng.normal(0, 1, 500), v])
    old[500 + 25] = 17.0
    s_young = _run(EnsembleDetector(), young)
    s_old = _run(EnsembleDetector(), old)
    assert s_young[25] > 0.5  # scores long before any warm-up of 100 points
    assert s_young[:20].max() == 0.0  # but not from its very first points
    assert s_young[25] < s_old[525]  # the same deviation is less certain on a young series


def test_pickled_state_gives_identical_subsequent_scores() -> None:
    rng = np.random.default_rng(6)
    keys = np.repeat(np.array(["a", "b", "c"]), 1)
    n = 900
    vals = np.column_stack([_daily(n, rng), 5 + rng.normal(0, 1, n),
                            np.cumsum(rng.normal(0, 1, n))])
    ts = np.arange(n) * 300.0
    det = EnsembleDetector()
    for i in range(600):
        det.score_learn_many(keys, np.full(3, ts[i]), vals[i])
    moved = EnsembleDetector()
    moved.restore(pickle.loads(pickle.dumps(det.snapshot())))
    clone = pickle.loads(pickle.dumps(det))
    for i in range(600, n):
        a = det.score_learn_many(keys, np.full(3, ts[i]), vals[i])
        b = moved.score_learn_many(keys, np.full(3, ts[i]), vals[i])
        c = clone.score_learn_many(keys, np.full(3, ts[i]), vals[i])
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_one_threshold_means_the_same_on_calm_and_noisy_series() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    calm = 100 + rng.normal(0, 0.1, n)
    noisy = 100 + rng.standard_t(3, n) * 20  # heavy-tailed: big swings are normal here
    det = EnsembleDetector()
    keys = np.tile(np.array([0, 1]), n)
    ts = np.repeat(np.arange(n) * 60.0, 2)
    s = det.score_learn_many(keys, ts, np.column_stack([calm, noisy]).ravel())
    calm_s, noisy_s = s[0::2][500:], s[1::2][500:]
    # false alarm rates at the engine's threshold are of the same (small) order
    assert (calm_s >= 0.5).mean() < 0.01
    assert (noisy_s >= 0.5).mean() < 0.01


def test_unknown_scorer_is_refused() -> None:
    with pytest.raises(ConfigError, match="tea-leaves"):
        EnsembleDetector(scorers=("seasonal", "tea-leaves"))
    assert len(SCORERS) == 4


def test_young_z_shrinks_only_young_series() -> None:
    z = np.array([5.0, 5.0])
    out = young_z(z, np.array([10, 10_000]), 10.0)
    assert out[0] == pytest.approx(5.0 / np.sqrt(2.0))
    assert out[1] == pytest.approx(5.0, rel=1e-3)


def test_point_surprise_is_the_two_sided_tail() -> None:
    # |z| = 1.96 is a two-sided tail of 5 %
    assert point_surprise(np.array([1.959964]))[0] == pytest.approx(-np.log10(0.05), rel=1e-4)
    assert point_surprise(np.array([-3.0]))[0] == point_surprise(np.array([3.0]))[0]


def test_null_moments_match_simulation() -> None:
    rng = np.random.default_rng(8)
    u = point_surprise(rng.normal(0, 1, 200_000))
    mean, var = null_surprise_moments(1.0)
    assert u.mean() == pytest.approx(mean, rel=0.02)
    assert u.var() == pytest.approx(var, rel=0.05)


def test_robust_step_resists_an_outlier_but_follows_a_shift() -> None:
    loc, mad = np.array([np.nan]), np.array([0.0])
    rng = np.random.default_rng(9)
    for i, x in enumerate(10 + rng.normal(0, 1, 200)):
        loc, mad = robust_step(loc, mad, np.array([x]), np.array([i]), 0.1, 0.02, 4.0, 10)
    before = float(loc[0])
    loc1, _ = robust_step(loc, mad, np.array([1e6]), np.array([200]), 0.1, 0.02, 4.0, 10)
    assert abs(float(loc1[0]) - before) < 1.0
    for i in range(100):
        loc, mad = robust_step(loc, mad, np.array([30.0]), np.array([200 + i]), 0.1, 0.02,
                               4.0, 10)
    assert float(loc[0]) == pytest.approx(30.0, abs=1.0)


def test_spread_z_is_signed() -> None:
    sig = np.array([1.0])
    assert spread_z(np.array([4.0]), sig, 19.0)[0] > 3
    assert spread_z(np.array([0.01]), sig, 19.0)[0] < -3



def _quantised(n: int, rng: np.random.Generator) -> np.ndarray:
    """A gauge reported to two decimals that mostly sits still: the MAD is nearly zero."""
    v = np.full(n, 0.49)
    moves = rng.random(n) < 0.2
    v[moves] += rng.choice([-0.01, 0.01], moves.sum())
    return np.round(v, 2)


def test_a_step_of_the_series_resolution_is_not_an_anomaly() -> None:
    rng = np.random.default_rng(11)
    v = _quantised(4000, rng)
    v[3000:3003] = 0.51  # two steps of the reporting resolution, three points long
    floored = _run(EnsembleDetector(resolution=1.0), v)
    bare = _run(EnsembleDetector(), v)
    # judged against its near-zero spread alone, the wobble alarms; at its resolution not
    assert bare[3000:3010].max() >= 0.5
    assert floored[3000:3010].max() < 0.5
    # a move of many steps is still an anomaly
    v[3500:3503] = 0.60
    assert _run(EnsembleDetector(resolution=1.0), v)[3500:3510].max() >= 0.5


def test_resolution_does_not_blunt_spikes_from_zero() -> None:
    """A series at 0 with rare spikes: its smallest step is the spike itself, which says
    nothing about its resolution (the floor is bounded by the level's magnitude)."""
    v = np.zeros(4000)
    v[np.arange(200, 3000, 250)] = 20.0
    v[3200:3260:4] = 20.0  # the spikes get dense
    floored = _run(EnsembleDetector(resolution=1.0), v)
    bare = _run(EnsembleDetector(), v)
    np.testing.assert_allclose(floored, bare)
