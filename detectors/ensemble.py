"""An ensemble of differently-biased scorers on one probability scale: the default detector.

No single model of "normal" holds on every real series: a seasonal profile is right for
traffic and wrong for a random-walking temperature, a level test misses a series that
suddenly turns noisy, a spike in a trending series is only visible in its rate of change.
Instead of tuning one model, each series is judged by four simple scorers at once:

* ``seasonal``: the residual against the best of a level, a daily and a weekly profile
  (:class:`~detectors.seasonal.SeasonalBaseline`; slow, sees what is odd for the hour);
* ``level``: a fast robust level (median-like, MAD spread): odd for the last dozen points;
* ``rate``: the first difference against its own robust spread (jumps, spikes on a trend);
* ``spread``: the short-term variance around the fast level against the long-run one
  (a series that turns noisy, or goes unnaturally still).

Every scorer's z becomes a point surprise ``-log10 p`` (:mod:`detectors.scorers`), and
each gets its own per-series anomaly likelihood (Ahmad et al. 2017): the tail probability
of its short-term mean surprise against the distribution that mean has shown *on this
series*. A noisy series thus needs more to alarm than a calm one, for every scorer
separately. The likelihoods start from the distribution they would have if nothing were
ever wrong (a prior worth ``prior_points`` points), so a series scores from its
``min_points``-th point with calibrated confidence, and while young its z values are shrunk
for the uncertainty of the spread they are measured in.

A value is known only to the resolution it is reported at: a gauge in steps of 0.01 that
mostly sits still has a robust spread near zero, and each step of one unit would look like
a many-sigma jump. The seasonal z is therefore measured in the spread combined (in
quadrature) with ``resolution`` times the series' smallest step so far, the step bounded by
``relative_floor`` of the expected level so that the spikes of a series that rests at zero
(whose smallest step is a whole spike) are not taken for its resolution. It is off by
default (``resolution=0``): on the development sets it was neutral (see docs/design.md).

The combined surprise is the largest likelihood surprise less ``log10`` of the number of
scorers (Bonferroni: four tests were made), mapped to [0, 1) by
:func:`~detectors.postprocess.surprise_score`, so 0.5 means a tail probability of 1e-5 on
every series: one threshold means the same everywhere.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> ts = np.arange(2000) * 300.0
>>> v = 50 + 10 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 1, 2000)
>>> v[1500:] += 8                                  # a level shift
>>> s = EnsembleDetector().score_learn_many(np.zeros(2000, dtype=int), ts, v)
>>> bool(s[1500:1503].max() > 0.5), bool(np.percentile(s[600:1500], 99) < 0.5)
(True, True)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiops.model import ConfigError
from detectors.base import FloatArray, IntArray, KeyedDetector
from detectors.postprocess import surprise_score, tail_surprise
from detectors.scorers import (
    GAUSS_MAD,
    null_surprise_moments,
    point_surprise,
    robust_step,
    spread_z,
    young_z,
)
from detectors.seasonal import SeasonalBaseline

SCORERS = ("seasonal", "level", "rate", "spread")
#: chosen by cross-validation across the development sets (see docs/design.md)
DEFAULT_SCORERS = ("seasonal",)


@dataclass(slots=True)
class _Pass:
    """What scoring a round computed, reused by learning the same round."""

    slots: IntArray
    seasonal: Any
    short: FloatArray  # (n, k) updated short-term mean surprises
    mean: FloatArray
    var: FloatArray
    std: FloatArray
    n: IntArray
    resid: FloatArray | None
    diff: FloatArray | None


class EnsembleDetector(KeyedDetector):
    """Seasonal, level, rate and spread scorers, each through its own likelihood; max wins."""

    name = "ensemble"
    version = 2
    _columns = {
        "n": ("i4", 0),
        "prev": ("f8", np.nan),
        "quantum": ("f4", np.nan),
        "fast": ("f8", np.nan),
        "fmad": ("f8", 0.0),
        "dmad": ("f8", 0.0),
        "svar": ("f8", np.nan),
    }

    def __init__(self, *, scorers: Sequence[str] = DEFAULT_SCORERS, min_points: int = 20,
                 young: float = 10.0, short_window: int = 10, long_window: int = 2000,
                 prior_points: int = 30, min_std: float = 0.15, learn_clip: float = 4.0,
                 max_surprise: float = 20.0, seasonal_warmup: int = 20,
                 fast_alpha: float = 0.1, scale_alpha: float = 0.02,
                 spread_alpha: float = 0.1, clip_z: float = 4.0,
                 resolution: float = 0.0, relative_floor: float = 0.05) -> None:
        unknown = set(scorers) - set(SCORERS)
        if unknown or not scorers:
            raise ConfigError(f"scorers must be a non-empty subset of {', '.join(SCORERS)}; "
                              f"got {', '.join(scorers) or 'none'}", source="scorers")
        self.scorers = tuple(s for s in SCORERS if s in scorers)
        k = len(self.scorers)
        self.fast_alpha = fast_alpha
        self.scale_alpha = scale_alpha
        self.spread_alpha = spread_alpha
        self.clip_z = clip_z
        self.resolution = resolution
        self.relative_floor = relative_floor
        self.min_points = min_points
        self.young = young
        self.short_alpha = 2.0 / (short_window + 1.0)
        self.long_alpha = 2.0 / (long_window + 1.0)
        self.prior_points = prior_points
        self.min_std = min_std
        self.learn_clip = learn_clip
        self.max_surprise = max_surprise
        self.seasonal_warmup = seasonal_warmup
        self._uses_fast = "level" in self.scorers or "spread" in self.scorers
        self._prior_mean, self._prior_var = null_surprise_moments(self.short_alpha)
        self._bonferroni = float(np.log10(k))
        self._vectors = {"l_short": ("f4", self._prior_mean, k),
                         "l_mean": ("f4", self._prior_mean, k),
                         "l_var": ("f4", self._prior_var, k)}
        self.seasonal = SeasonalBaseline(warmup=seasonal_warmup)
        super().__init__()
        self.seasonal.follow(self)

    def _params(self) -> dict[str, Any]:
        return {"fast_alpha": self.fast_alpha, "scale_alpha": self.scale_alpha,
                "spread_alpha": self.spread_alpha, "clip_z": self.clip_z,
                "min_points": self.min_points, "young": self.young,
                "short_alpha": self.short_alpha, "long_alpha": self.long_alpha,
                "prior_points": self.prior_points, "min_std": self.min_std,
                "learn_clip": self.learn_clip, "max_surprise": self.max_surprise,
                "resolution": self.resolution,
                "relative_floor": self.relative_floor, "scorers": list(self.scorers)}

    # -- the follower's bookkeeping --------------------------------------------------------
    def _slots(self, keys: Sequence[Hashable] | npt.NDArray[Any]) -> IntArray:
        slots = super()._slots(keys)
        self.seasonal.sync_slots(self._created, self._capacity)
        return slots

    def _new_slot(self, key: Hashable) -> int:
        slot = super()._new_slot(key)
        self.seasonal.sync_slots([slot], self._capacity)
        return slot

    def state_bytes_per_series(self) -> int:
        return super().state_bytes_per_series() + self.seasonal.state_bytes_per_series()

    def _snapshot_extra(self) -> dict[str, Any]:
        return {"seasonal": self.seasonal.snapshot()}

    def _restore_extra(self, extra: dict[str, Any]) -> None:
        self.seasonal.restore(extra["seasonal"])
        self.seasonal.follow(self)

    # -- scoring ---------------------------------------------------------------------------
    def _zs(self, slots: IntArray, ts: FloatArray, values: FloatArray, n: IntArray
            ) -> tuple[FloatArray, Any, FloatArray | None, FloatArray | None]:
        """Each scorer's z (columns in ``self.scorers`` order) and what learning reuses."""
        ready = n >= self.min_points
        shrink = np.sqrt((nn := np.maximum(n, 1).astype(np.float64)) / (nn + self.young))
        cols = []
        sp = self.seasonal._assess(slots, ts, values)
        seasonal_z = sp.z
        if self.resolution > 0.0:
            # a value is known only to its series' resolution (the smallest step it ever
            # took): a spread measured below that is quantisation, not calm
            q = self.quantum[slots].astype(np.float64)  # type: ignore[attr-defined]
            q = np.minimum(np.where(np.isnan(q), 0.0, q), self.relative_floor * np.abs(sp.pred))
            floor = self.resolution * q
            sp.sigma = np.sqrt(sp.sigma * sp.sigma + floor * floor)  # the expected band too
            seasonal_z = np.where(sp.z != 0.0, (values - sp.pred) / sp.sigma, 0.0)
        resid = diff = None
        if self._uses_fast:
            fast = self.fast[slots]  # type: ignore[attr-defined]
            resid = values - np.where(np.isnan(fast), values, fast)
        if "rate" in self.scorers:
            prev = self.prev[slots]  # type: ignore[attr-defined]
            diff = values - np.where(np.isnan(prev), values, prev)
        tiny = 1e-9 * (1.0 + np.abs(values))
        for name in self.scorers:
            if name == "seasonal":
                z = seasonal_z * shrink
            elif name == "level":
                assert resid is not None
                sigma = GAUSS_MAD * self.fmad[slots] + tiny  # type: ignore[attr-defined]
                z = resid / sigma * shrink
            elif name == "rate":
                assert diff is not None
                sigma = GAUSS_MAD * self.dmad[slots] + tiny  # type: ignore[attr-defined]
                z = diff / sigma * shrink
            else:
                assert resid is not None
                sigma = GAUSS_MAD * self.fmad[slots] + tiny  # type: ignore[attr-defined]
                svar = self.svar[slots]  # type: ignore[attr-defined]
                a = self.spread_alpha
                short_var = np.where(np.isnan(svar), resid * resid,
                                     svar + a * (np.minimum(resid * resid, 64 * sigma * sigma)
                                                 - svar))
                dof = (2.0 - a) / a
                z = young_z(spread_z(short_var, sigma, dof), n, self.young + dof)
            cols.append(np.where(ready, z, 0.0))
        zs = cols[0][:, None] if len(cols) == 1 else np.stack(cols, axis=1)
        return zs, sp, resid, diff

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        n = self.n[slots]  # type: ignore[attr-defined]
        z, sp, resid, diff = self._zs(slots, ts, values, n)
        # a scorer not ready yet (z exactly 0) says what an unremarkable point says
        u = np.where(z == 0.0, self._prior_mean,
                     np.minimum(point_surprise(z), self.max_surprise))
        prev_short = self.l_short[slots].astype(np.float64)  # type: ignore[attr-defined]
        short = prev_short + self.short_alpha * (u - prev_short)
        mean = self.l_mean[slots].astype(np.float64)  # type: ignore[attr-defined]
        var = self.l_var[slots].astype(np.float64)  # type: ignore[attr-defined]
        std = np.sqrt(var) + self.min_std
        lik = tail_surprise((short - mean) / std)
        # past a tail of 1e-60 there is nothing more to say (and scores stay below 1)
        top = lik[:, 0] if lik.shape[1] == 1 else lik.max(axis=1)
        surprise = np.minimum(top - self._bonferroni, 60.0)
        score = np.where(n >= self.min_points, surprise_score(surprise), 0.0)
        self._cache = _Pass(slots, sp, short, mean, var, std, n, resid, diff)
        # the baseline's range is known once it is ready, also where a value is exactly its
        # prediction (z == 0: a flat, quantised series at its level)
        has = np.isfinite(sp.pred) & (
            self.seasonal.n0[slots] >= self.seasonal.warmup)  # type: ignore[attr-defined]
        band = 4.0 * sp.sigma
        low = np.where(has, sp.pred - band, np.nan)
        high = np.where(has, sp.pred + band, np.nan)
        return score, low, high

    # -- learning --------------------------------------------------------------------------
    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        p = self._cache
        self._cache = None
        if not isinstance(p, _Pass) or p.slots is not slots:
            self._score(slots, ts, values)
            p = self._cache
            self._cache = None
            assert isinstance(p, _Pass)
        self.seasonal._cache = p.seasonal
        self.seasonal._learn(slots, ts, values, scores)
        n = p.n
        if p.resid is not None:  # the fast level and its spread (level, spread scorers)
            fmad = self.fmad[slots]  # type: ignore[attr-defined]
            if "spread" in self.scorers:
                sigma = GAUSS_MAD * fmad + 1e-9 * (1.0 + np.abs(values))
                svar = self.svar[slots]  # type: ignore[attr-defined]
                r2 = np.minimum(p.resid * p.resid, 64 * sigma * sigma)
                self.svar[slots] = np.where(  # type: ignore[attr-defined]
                    np.isnan(svar), p.resid * p.resid, svar + self.spread_alpha * (r2 - svar))
            fast, fmad = robust_step(self.fast[slots], fmad,  # type: ignore[attr-defined]
                                     values, n, self.fast_alpha, self.scale_alpha,
                                     self.clip_z, self.min_points)
            self.fast[slots] = fast  # type: ignore[attr-defined]
            self.fmad[slots] = fmad  # type: ignore[attr-defined]
        if p.diff is not None:  # the rate scorer's spread of first differences
            prev = self.prev[slots]  # type: ignore[attr-defined]
            _, dmad = robust_step(np.where(np.isnan(prev), np.nan, 0.0),
                                  self.dmad[slots], p.diff, n,  # type: ignore[attr-defined]
                                  1.0, self.scale_alpha, self.clip_z, self.min_points)
            self.dmad[slots] = dmad  # type: ignore[attr-defined]
        if self.resolution > 0.0:  # the smallest non-zero step between consecutive points
            step = np.abs(values - self.prev[slots])  # type: ignore[attr-defined]
            q = self.quantum[slots]  # type: ignore[attr-defined]
            self.quantum[slots] = np.where(  # type: ignore[attr-defined]
                (step > 0.0) & ~(step >= q), step, q)
        if self.resolution > 0.0 or p.diff is not None:
            self.prev[slots] = values  # type: ignore[attr-defined]
        # each scorer's likelihood: the long-run distribution of its short-term mean
        mean, var = p.mean, p.var
        a = np.maximum(self.long_alpha, 1.0 / (n + 1.0 + self.prior_points))[:, None]
        # winsorised: an anomaly's burst of scores must not teach the series that bursts
        # are normal, which would blind this scorer to the next one for days
        lim = self.learn_clip * p.std
        d = np.minimum(np.maximum(p.short - mean, -lim), lim)
        self.l_mean[slots] = mean + a * d  # type: ignore[attr-defined]
        self.l_var[slots] = (1.0 - a) * (var + a * d * d)  # type: ignore[attr-defined]
        self.l_short[slots] = p.short  # type: ignore[attr-defined]
        self.n[slots] = n + 1  # type: ignore[attr-defined]
