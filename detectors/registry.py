"""The built-in detectors by name: a plain dict of zero-argument factories, built on call.

There is no module-level registry to mutate: callers take the dict, add their own entries
if they like, and pass it where a name must become a detector (settings, the backtest CLI).

>>> sorted(builtin_detectors())[:3]
['default', 'default-onsets', 'ensemble-all']
>>> det = builtin_detectors()["seasonal"]()
>>> det.name
'seasonal'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detectors.base import Detector
from detectors.ensemble import DEFAULT_SCORERS, SCORERS, EnsembleDetector
from detectors.iforest import EntityIsolationForest
from detectors.metricwise import MetricwiseDetector
from detectors.postprocess import AnomalyLikelihood, Combine, OnsetFilter, Pipeline
from detectors.river_adapters import river_half_space_trees, river_standard_absolute_deviation
from detectors.seasonal import SeasonalBaseline
from detectors.zscore import RollingZScore

DetectorFactory = Callable[[], Detector]


def default_detector(*, warmup: int = 20,
                     scorers: Sequence[str] = DEFAULT_SCORERS) -> EnsembleDetector:
    """The ensemble detector with the defaults chosen across the development sets.

    Scores are on the likelihood's log scale: 0.5 is a tail probability of 1e-5 on every
    series. ``warmup`` is the points a new series needs before it scores; until a few
    hundred points its confidence is widened (see :mod:`detectors.ensemble`).
    """
    return EnsembleDetector(min_points=warmup, seasonal_warmup=warmup, scorers=scorers)


def previous_default(*, warmup: int = 30, likelihood_warmup: int = 100) -> Pipeline:
    """The default until 2026-12: seasonal baseline -> anomaly likelihood (kept to compare)."""
    return Pipeline(SeasonalBaseline(warmup=warmup),
                    AnomalyLikelihood(warmup=likelihood_warmup), name="seasonal-likelihood")


def episode_onsets() -> OnsetFilter:
    """Onsets as the engine's alert policy sees episodes: a new onset may count once the
    score stayed five points below 0.6 of the last onset's (clear / fire threshold); inside
    an episode only a score a decade of tail probability above the last onset's counts."""
    return OnsetFilter(rearm_ratio=0.6, rearm_count=5, rise=0.1)


def default_onsets() -> Pipeline:
    """The default detector reporting onsets, as NAB counts detections (one per episode).

    The alert policy plays this part in the engine (a burst fires one alert); NAB's sweep
    needs it expressed in the score itself, independent of the threshold.
    """
    return Pipeline(default_detector(), episode_onsets(), name="default-onsets")


def seasonal_and_iforest() -> Combine:
    """The default detector and an IsolationForest over the same values, each turned into
    a likelihood (so their scores are comparable), merged by the larger."""
    return Combine(previous_default(),
                   Pipeline(EntityIsolationForest(), AnomalyLikelihood(log_input=False)),
                   how="max", name="seasonal+iforest")


def builtin_detectors() -> dict[str, DetectorFactory]:
    """Name -> factory for every detector the project ships."""
    return {
        "default": default_detector,
        "ensemble-all": lambda: EnsembleDetector(scorers=SCORERS),
        "default-onsets": default_onsets,
        "seasonal-likelihood": previous_default,
        "seasonal": SeasonalBaseline,
        "zscore": RollingZScore,
        "likelihood-zscore": lambda: Pipeline(RollingZScore(), AnomalyLikelihood(),
                                              name="likelihood-zscore"),
        "iforest": EntityIsolationForest,
        "metricwise": MetricwiseDetector,
        "seasonal+iforest": seasonal_and_iforest,
        "river-hst": river_half_space_trees,
        "river-sad": river_standard_absolute_deviation,
    }
