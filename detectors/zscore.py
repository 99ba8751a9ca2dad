"""Rolling z-score: exponentially weighted mean and variance per series.

The simplest detector an SRE can reason about: how many standard deviations is this point
from the recent mean? Points far out are kept out of the baseline (so a spike does not widen
the band it is judged against), but a run of them re-baselines the series, because a level
that persists is the new normal, not an incident that never ends.

>>> det = RollingZScore(alpha=0.1, warmup=5)
>>> scores = det.score_learn_many(["s"] * 8, range(8), [1, 1.1, 0.9, 1, 1.05, 0.95, 1, 9])
>>> bool(scores[-1] > 0.99), bool(scores[3] == 0.0)
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from detectors.base import FloatArray, IntArray, KeyedDetector


def z_to_score(z: FloatArray) -> FloatArray:
    """Two-sided normal tail mass inside ``|z|``: 0 at the mean, 0.9973 at 3 sigma."""
    out: FloatArray = 2.0 * ndtr(np.abs(z)) - 1.0
    return out


class RollingZScore(KeyedDetector):
    """EWMA location and scale per series; score is the normal mass within ``|z|``."""

    name = "zscore"
    version = 1
    _columns = {"n": ("i8", 0), "mean": ("f8", 0.0), "var": ("f8", 0.0), "run": ("i8", 0)}

    def __init__(self, *, alpha: float = 0.02, warmup: int = 30, band_z: float = 3.0,
                 filter_z: float = 4.0, rebaseline_after: int = 30) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")
        self.alpha = alpha
        self.warmup = warmup
        self.band_z = band_z
        self.filter_z = filter_z
        self.rebaseline_after = rebaseline_after
        super().__init__()

    def _params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "warmup": self.warmup, "band_z": self.band_z,
                "filter_z": self.filter_z, "rebaseline_after": self.rebaseline_after}

    def _std(self, slots: IntArray) -> FloatArray:
        mean = self.mean[slots]  # type: ignore[attr-defined]
        var = self.var[slots]  # type: ignore[attr-defined]
        floor = 1e-3 * np.abs(mean) + 1e-9
        out: FloatArray = np.sqrt(var) + floor
        return out

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        mean = self.mean[slots]  # type: ignore[attr-defined]
        std = self._std(slots)
        z = (values - mean) / std
        ready = self.n[slots] >= self.warmup  # type: ignore[attr-defined]
        score = np.where(ready, z_to_score(z), 0.0)
        low = np.where(ready, mean - self.band_z * std, np.nan)
        high = np.where(ready, mean + self.band_z * std, np.nan)
        return score, low, high

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        n = self.n[slots]  # type: ignore[attr-defined]
        mean = self.mean[slots]  # type: ignore[attr-defined]
        var = self.var[slots]  # type: ignore[attr-defined]
        run = self.run[slots]  # type: ignore[attr-defined]
        z = np.abs(values - mean) / self._std(slots)
        outlier = (n >= self.warmup) & (z > self.filter_z)
        run = np.where(outlier, run + 1, 0)
        rebase = run >= self.rebaseline_after
        a = np.maximum(self.alpha, 1.0 / (n + 1.0))
        d = values - mean
        keep = ~outlier
        new_mean = np.where(keep, mean + a * d, mean)
        new_var = np.where(keep, (1.0 - a) * (var + a * d * d), var)
        new_mean = np.where(rebase, values, new_mean)
        run = np.where(rebase, 0, run)
        self.mean[slots] = new_mean  # type: ignore[attr-defined]
        self.var[slots] = new_var  # type: ignore[attr-defined]
        self.n[slots] = n + keep  # type: ignore[attr-defined]
        self.run[slots] = run  # type: ignore[attr-defined]
