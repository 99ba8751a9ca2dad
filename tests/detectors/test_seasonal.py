"""SeasonalBaseline: seasonality, cold start, gaps, level shifts, filter before learn."""

from __future__ import annotations

import numpy as np

from detectors.seasonal import DAY, SeasonalBaseline

STEP = 600.0


def _daily(days: int, seed: int = 0, amp: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.arange(0, days * DAY, STEP) + 1.7e9
    return ts, 100 + amp * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, ts.size)


def _run(det: SeasonalBaseline, ts: np.ndarray, v: np.ndarray, key: str = "s") -> np.ndarray:
    return det.score_learn_many([key] * ts.size, ts, v)


def test_daily_swing_is_normal_once_learnt_but_a_dip_at_noon_is_not() -> None:
    det = SeasonalBaseline()
    ts, v = _daily(14)
    scores = _run(det, ts, v)
    assert np.percentile(scores[-144:], 95) < 0.999  # the last day: the swing is expected
    # a value that is ordinary at night but not at the daily peak
    peak_ts = ts[-1] + DAY / 4 - (ts[-1] % DAY) + DAY  # next 06:00 UTC, the sine's top
    night_value = 80.0
    z, pred, _sigma = det.zscores(np.array([0]), np.array([peak_ts]), np.array([night_value]))
    assert abs(pred[0] - 120.0) < 3.0
    assert z[0] < -4.0


def test_cold_start_scores_against_the_level_until_a_profile_exists() -> None:
    det = SeasonalBaseline(warmup=20)
    ts = np.arange(100) * STEP + 1.7e9
    v = np.full(100, 50.0) + np.random.default_rng(1).normal(0, 1, 100)
    scores = _run(det, ts, v)
    assert (scores[:20] == 0.0).all()          # warm-up: no verdicts
    assert (scores[20:] > 0.9999).mean() < 0.03  # plain noise around a level
    spike = det.score_one("s", float(ts[-1] + STEP), 80.0)
    assert spike > 0.9999


def test_spike_is_kept_out_of_the_baseline() -> None:
    det = SeasonalBaseline()
    ts, v = _daily(10)
    _run(det, ts, v)
    before = det.snapshot()
    det.score_learn_many(["s"], [ts[-1] + STEP], [10_000.0])
    after = det.snapshot()
    lvl_before = before["columns"]["level"][0]
    lvl_after = after["columns"]["level"][0]
    assert abs(lvl_after - lvl_before) < 5.0


def test_level_shift_rebaselines_instead_of_alarming_forever() -> None:
    det = SeasonalBaseline()
    ts, v = _daily(10)
    _run(det, ts, v)
    ts2, v2 = _daily(3, seed=5)
    ts2 = ts2 + 10 * DAY
    scores = _run(det, ts2, v2 + 200.0)
    assert scores[0] > 0.9999
    assert np.median(scores[-72:]) < 0.99


def test_gaps_and_irregular_sampling() -> None:
    det = SeasonalBaseline()
    rng = np.random.default_rng(3)
    ts = np.sort(rng.uniform(0, 21 * DAY, 2500)) + 1.7e9
    ts = ts[(ts - 1.7e9 < 8 * DAY) | (ts - 1.7e9 > 11 * DAY)]  # a three-day hole
    v = 100 + 20 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0, 1, ts.size)
    scores = _run(det, ts, v)
    assert np.isfinite(scores).all()
    assert np.percentile(scores[-300:], 95) < 0.999


def test_series_are_vectorised_independently() -> None:
    det = SeasonalBaseline()
    ts, v = _daily(3)
    keys = np.repeat(np.arange(50), ts.size)
    scores = det.score_learn_many(keys, np.tile(ts, 50), np.tile(v, 50))
    per = scores.reshape(50, ts.size)
    np.testing.assert_array_equal(per, np.broadcast_to(per[0], per.shape))
    assert len(det) == 50


def test_state_is_under_two_kilobytes_per_series() -> None:
    assert SeasonalBaseline().state_bytes_per_series() <= 2048
