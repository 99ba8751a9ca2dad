"""The same generic checks over every built-in detector (River's ``checks`` idea)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest

from detectors.base import Detector
from detectors.iforest import EntityIsolationForest
from detectors.registry import builtin_detectors

FACTORIES = builtin_detectors()
NAMES = sorted(FACTORIES)
# micro-batch detectors score a batch against the model fitted before it
MICRO_BATCH = {"iforest"}


def _stream(n: int = 300, series: int = 3, seed: int = 7) -> tuple[list[str], np.ndarray,
                                                                   np.ndarray]:
    rng = np.random.default_rng(seed)
    keys, ts, vals = [], [], []
    for i in range(n):
        for s in range(series):
            t = i * 300.0 + (7200.0 if i > n // 2 else 0.0)  # a two-hour gap mid-stream
            keys.append(f"s{s}")
            ts.append(t)
            vals.append(10 * s + np.sin(t / 3600) + rng.normal(0, 0.2))
    v = np.array(vals)
    v[100] = 40.0
    return keys, np.array(ts), v


def _fresh(name: str) -> Detector:
    return FACTORIES[name]()


@pytest.mark.parametrize("name", NAMES)
def test_scores_are_finite_and_in_unit_range_on_hostile_input(name: str) -> None:
    keys, ts, vals = _stream()
    vals[10] = np.nan
    vals[11] = np.inf
    vals[12] = -np.inf
    ts[20] = ts[20] - 10_000.0  # out of order
    ts[30] = np.nan
    det = _fresh(name)
    scores = det.score_learn_many(keys, ts, vals)
    assert scores.shape == vals.shape
    assert np.isfinite(scores).all()
    assert (scores >= 0.0).all() and (scores <= 1.0).all()
    assert scores[10] == scores[11] == scores[12] == 0.0
    assert 0.0 <= det.score_one("s0", float(ts[-1] + 300), 1.0) <= 1.0
    assert det.score_one("never-seen", 0.0, 1.0) == 0.0
    assert det.score_learn_many([], [], []).shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_repeatability(name: str) -> None:
    keys, ts, vals = _stream()
    a = _fresh(name).score_learn_many(keys, ts, vals)
    b = _fresh(name).score_learn_many(keys, ts, vals)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_snapshot_round_trip_through_pickle(name: str) -> None:
    keys, ts, vals = _stream()
    cut = len(keys) // 2
    original = _fresh(name)
    original.score_learn_many(keys[:cut], ts[:cut], vals[:cut])
    state = pickle.loads(pickle.dumps(original.snapshot()))
    moved = _fresh(name)
    moved.restore(state)
    assert len(moved) == len(original)
    np.testing.assert_allclose(moved.score_learn_many(keys[cut:], ts[cut:], vals[cut:]),
                               original.score_learn_many(keys[cut:], ts[cut:], vals[cut:]))


@pytest.mark.parametrize("name", NAMES)
def test_new_and_vanishing_series(name: str) -> None:
    keys, ts, vals = _stream()
    det = _fresh(name)
    det.score_learn_many(keys, ts, vals)
    assert len(det) == 3
    det.forget(["s1", "unknown"])
    assert len(det) == 2
    # a series that comes back starts from scratch, like one never seen
    newcomer = _fresh(name)
    k1 = [k for k in keys if k == "s1"]
    t1 = ts[[k == "s1" for k in keys]] + 1e6
    v1 = vals[[k == "s1" for k in keys]]
    np.testing.assert_allclose(det.score_learn_many(k1, t1, v1),
                               newcomer.score_learn_many(k1, t1, v1))
    assert len(det) == 3


@pytest.mark.parametrize("name", sorted(set(NAMES) - MICRO_BATCH))
def test_batch_equals_point_by_point(name: str) -> None:
    keys, ts, vals = _stream(n=120)
    batch = _fresh(name).score_learn_many(keys, ts, vals)
    single = _fresh(name)
    one_by_one = np.array([single.score_learn_many([k], [t], [v])[0]
                           for k, t, v in zip(keys, ts, vals, strict=True)])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_score_one_does_not_learn(name: str) -> None:
    keys, ts, vals = _stream(n=200)
    det = _fresh(name)
    det.score_learn_many(keys, ts, vals)
    first = det.score_one("s0", float(ts[-1] + 300), 25.0)
    assert det.score_one("s0", float(ts[-1] + 300), 25.0) == first


def test_iforest_refits_on_schedule_not_per_point() -> None:
    det = EntityIsolationForest(window=128, min_fit=64, refit_every=100)
    rng = np.random.default_rng(0)
    det.score_learn_many(["e"] * 1000, np.arange(1000.0), rng.normal(0, 1, (1000, 3)))
    fits = det.snapshot()["entities"]["e"]["fits"]
    assert 1 <= fits <= 1 + (1000 - 64) // 100 + 3


_: Callable[[], object] = FACTORIES["default"]
