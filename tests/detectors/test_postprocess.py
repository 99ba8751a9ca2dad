"""Score post-processing: likelihood, onsets, pipelines and combinations."""

from __future__ import annotations

import numpy as np

from detectors.postprocess import AnomalyLikelihood, Combine, OnsetFilter, Pipeline
from detectors.seasonal import SeasonalBaseline
from detectors.zscore import RollingZScore, z_to_score


def test_likelihood_normalises_a_noisy_series_against_its_own_history() -> None:
    rng = np.random.default_rng(0)
    calm = z_to_score(rng.normal(0, 1, 3000))
    noisy = z_to_score(rng.normal(0, 3, 3000))  # raw scores near 1 all the time
    lik = AnomalyLikelihood()
    keys = np.array([0] * 3000 + [1] * 3000)
    out = lik.score_learn_many(keys, np.tile(np.arange(3000.0), 2), np.concatenate([calm,
                                                                                    noisy]))
    # the noisy series' everyday raw scores are not news once its history is known
    assert np.percentile(out[3000 + 1000:], 99) < 0.5


def test_onset_filter_reports_the_start_of_a_burst_once() -> None:
    scores = np.zeros(400)
    scores[100:150] = 0.9
    scores[300] = 0.95
    out = OnsetFilter(hold=100).score_learn_many([0] * 400, np.arange(400.0), scores)
    assert (out >= 0.5).sum() == 2
    assert out[100] == 0.9 and out[300] == 0.95
    assert out[101:150].max() < 0.05


def test_pipeline_keeps_the_expected_range_of_its_detector() -> None:
    pipe = Pipeline(SeasonalBaseline(warmup=10), AnomalyLikelihood(warmup=10))
    rng = np.random.default_rng(1)
    res = pipe.assess_many(["s"] * 200, np.arange(200) * 60.0, 50 + rng.normal(0, 1, 200))
    assert np.isnan(res.low[:5]).all()
    assert (res.low[50:] < 50).all() and (res.high[50:] > 50).all()


def test_combine_takes_the_stronger_verdict() -> None:
    rng = np.random.default_rng(2)
    v = 10 + rng.normal(0, 1, 300)
    v[-1] = 30
    a = RollingZScore()
    b = RollingZScore(alpha=0.2)
    both = Combine(RollingZScore(), RollingZScore(alpha=0.2))
    keys, ts = ["s"] * 300, np.arange(300.0)
    sa = a.score_learn_many(keys, ts, v)
    sb = b.score_learn_many(keys, ts, v)
    np.testing.assert_allclose(both.score_learn_many(keys, ts, v), np.maximum(sa, sb))
    mean = Combine(RollingZScore(), RollingZScore(alpha=0.2), how="mean")
    np.testing.assert_allclose(mean.score_learn_many(keys, ts, v), (sa + sb) / 2)
