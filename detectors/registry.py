"""The built-in detectors by name: a plain dict of zero-argument factories, built on call.

There is no module-level registry to mutate: callers take the dict, add their own entries
if they like, and pass it where a name must become a detector (settings, the backtest CLI).

>>> sorted(builtin_detectors())[:3]
['default', 'default-onsets', 'iforest']
>>> det = builtin_detectors()["seasonal"]()
>>> det.name
'seasonal'
"""

from __future__ import annotations

from collections.abc import Callable

from detectors.base import Detector
from detectors.iforest import EntityIsolationForest
from detectors.postprocess import AnomalyLikelihood, Combine, OnsetFilter, Pipeline
from detectors.river_adapters import river_half_space_trees, river_standard_absolute_deviation
from detectors.seasonal import SeasonalBaseline
from detectors.zscore import RollingZScore

DetectorFactory = Callable[[], Detector]


def default_detector(*, warmup: int = 30, likelihood_warmup: int = 100) -> Pipeline:
    """Seasonal baseline scored through the anomaly likelihood: what alerts are built on.

    Scores are on the likelihood's log scale: 0.5 is a tail probability of 1e-5.
    ``warmup``/``likelihood_warmup`` are the points a new series needs before it can score.
    """
    return Pipeline(SeasonalBaseline(warmup=warmup),
                    AnomalyLikelihood(warmup=likelihood_warmup), name="default")


def default_onsets() -> Pipeline:
    """The default detector reporting onsets, as NAB counts detections (one per episode).

    The alert policy plays this part in the engine (a burst fires one alert); NAB's sweep
    needs it expressed in the score itself, independent of the threshold.
    """
    base = default_detector()
    return Pipeline(base.detector, *base.post, OnsetFilter(), name="default-onsets")


def seasonal_and_iforest() -> Combine:
    """The default detector and an IsolationForest over the same values, each turned into
    a likelihood (so their scores are comparable), merged by the larger."""
    return Combine(default_detector(),
                   Pipeline(EntityIsolationForest(), AnomalyLikelihood(log_input=False)),
                   how="max", name="seasonal+iforest")


def builtin_detectors() -> dict[str, DetectorFactory]:
    """Name -> factory for every detector the project ships."""
    return {
        "default": default_detector,
        "default-onsets": default_onsets,
        "seasonal": SeasonalBaseline,
        "zscore": RollingZScore,
        "likelihood-zscore": lambda: Pipeline(RollingZScore(), AnomalyLikelihood(),
                                              name="likelihood-zscore"),
        "iforest": EntityIsolationForest,
        "seasonal+iforest": seasonal_and_iforest,
        "river-hst": river_half_space_trees,
        "river-sad": river_standard_absolute_deviation,
    }
