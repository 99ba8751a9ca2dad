"""Seasonal baseline: daily and weekly profiles with robust running location and scale.

Operational metrics follow the clock: traffic peaks at noon and sags on Sundays. A detector
that ignores that either alarms every morning or is too blunt to see a real dip. Per series
this keeps three competing baselines and judges each point by the one that currently
predicts best (lowest running residual scale):

* a non-seasonal level (an EWMA), which is all a new series has (cold start);
* a daily profile, 24 hour-of-day buckets, interpolated linearly between bucket centres so
  a 5-minute series is not judged against an hourly step function;
* a weekly profile, 168 hour-of-week buckets, likewise interpolated.

Every baseline learns with the residual clipped to ``clip_z`` scales (a Huber-style robust
update): an outlier barely moves the baseline it is judged against (filter before learn),
while a level shift, which keeps producing clipped residuals of the same sign, walks the
baseline over within a bounded time, and ``rebaseline_after`` consecutive far-out points of
the same sign jump it there (a persistent level is the new normal, not an endless alarm).
Gaps are harmless: buckets are addressed by the timestamp, not by a sample count, so
irregular sampling and missing hours only slow learning down.

State per series is a few scalars plus 192 float32 profile buckets, about 0.9 KB.

>>> import numpy as np
>>> det = SeasonalBaseline()
>>> ts = np.arange(0, 21 * 86400, 600.0)
>>> values = 100 + 20 * np.sin(2 * np.pi * ts / 86400)
>>> values[-36] += 15            # a bump well inside the daily range
>>> scores = det.score_learn_many(np.zeros(ts.size, dtype=int), ts, values)
>>> bool(scores[-36] > 0.999), bool(np.median(scores[-300:]) < 0.9)
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from detectors.base import FloatArray, IntArray, KeyedDetector
from detectors.zscore import z_to_score

DAY = 86400.0
WEEK = 7 * DAY
_GAUSS_MAD = 1.2533  # sigma / E|r| for a normal residual


class SeasonalBaseline(KeyedDetector):
    """Non-seasonal, daily and weekly baselines per series; the best predictor judges."""

    name = "seasonal"
    version = 1
    _columns = {
        "first_ts": ("f8", np.nan),
        "level": ("f8", np.nan),
        "scale0": ("f8", 0.0),
        "scale_d": ("f8", 0.0),
        "scale_w": ("f8", 0.0),
        "n0": ("i4", 0),
        "n_d": ("i4", 0),
        "n_w": ("i4", 0),
        "run": ("i4", 0),
    }
    _vectors = {
        "prof_d": ("f4", np.nan, 96),
        "prof_w": ("f4", np.nan, 168),
        "spread_d": ("f4", np.nan, 96),
        "spread_w": ("f4", np.nan, 168),
    }

    def __init__(self, *, level_alpha: float = 0.02, profile_alpha: float = 0.15,
                 scale_alpha: float = 0.01, warmup: int = 30, clip_z: float = 4.0,
                 rebaseline_after: int = 60, band_z: float = 4.0,
                 local_scale: bool = True) -> None:
        self.local_scale = local_scale
        self.level_alpha = level_alpha
        self.profile_alpha = profile_alpha
        self.scale_alpha = scale_alpha
        self.warmup = warmup
        self.clip_z = clip_z
        self.rebaseline_after = rebaseline_after
        self.band_z = band_z
        super().__init__()

    def _params(self) -> dict[str, Any]:
        return {"level_alpha": self.level_alpha, "profile_alpha": self.profile_alpha,
                "scale_alpha": self.scale_alpha, "warmup": self.warmup,
                "clip_z": self.clip_z, "rebaseline_after": self.rebaseline_after}

    # -- geometry ------------------------------------------------------------------------
    @staticmethod
    def _buckets(ts: FloatArray, period: float, n: int) -> tuple[IntArray, IntArray, FloatArray]:
        """Neighbouring bucket indexes and the weight of the second, for interpolation."""
        offset = 3 * DAY if period == WEEK else 0.0  # weeks start on Monday 00:00 UTC
        pos = ((ts + offset) % period) / (period / n) - 0.5
        b0f = np.floor(pos)
        w = pos - b0f
        b0 = b0f.astype(np.int64) % n
        return b0, (b0 + 1) % n, w

    def _profile(self, prof: np.ndarray, slots: IntArray, ts: FloatArray, period: float
                 ) -> tuple[FloatArray, IntArray, IntArray, FloatArray]:
        n = prof.shape[1]
        b0, b1, w = self._buckets(ts, period, n)
        p0 = prof[slots, b0].astype(np.float64)
        p1 = prof[slots, b1].astype(np.float64)
        pred = np.where(np.isnan(p0), p1, np.where(np.isnan(p1), p0, (1 - w) * p0 + w * p1))
        return pred, b0, b1, w

    def _local_scale(self, spread: np.ndarray, scale: FloatArray, slots: IntArray,
                     ts: FloatArray, period: float) -> FloatArray:
        """Residual scale at this time of day/week: the bucket's, shrunk to the global."""
        glob = scale[slots]
        if not self.local_scale:
            return glob
        local, *_ = self._profile(spread, slots, ts, period)
        out: FloatArray = np.where(np.isfinite(local), 0.5 * (local + glob), glob)
        return out

    # -- scoring -------------------------------------------------------------------------
    def _predict(self, slots: IntArray, ts: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Best available prediction and its residual scale (sigma) per point."""
        level = self.level[slots]  # type: ignore[attr-defined]
        pred = level.copy()
        scale = self.scale0[slots].copy()  # type: ignore[attr-defined]
        age = ts - self.first_ts[slots]  # type: ignore[attr-defined]
        pd, *_ = self._profile(self.prof_d, slots, ts, DAY)  # type: ignore[attr-defined]
        sd = self._local_scale(self.spread_d, self.scale_d,  # type: ignore[attr-defined]
                               slots, ts, DAY)
        use_d = ((age >= 2 * DAY) & (self.n_d[slots] >= self.warmup)  # type: ignore[attr-defined]
                 & np.isfinite(pd) & (sd < scale))
        pred = np.where(use_d, pd, pred)
        scale = np.where(use_d, sd, scale)
        pw, *_ = self._profile(self.prof_w, slots, ts, WEEK)  # type: ignore[attr-defined]
        sw = self._local_scale(self.spread_w, self.scale_w,  # type: ignore[attr-defined]
                               slots, ts, WEEK)
        use_w = ((age >= 2 * WEEK) & (self.n_w[slots] >= self.warmup)  # type: ignore[attr-defined]
                 & np.isfinite(pw) & (sw < scale))
        pred = np.where(use_w, pw, pred)
        scale = np.where(use_w, sw, scale)
        sigma = _GAUSS_MAD * scale + 1e-9 * (1.0 + np.abs(pred))
        return pred, sigma

    def zscores(self, slots: IntArray, ts: FloatArray, values: FloatArray
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Signed z of each point against its best baseline, with prediction and sigma."""
        pred, sigma = self._predict(slots, ts)
        ready = self.n0[slots] >= self.warmup  # type: ignore[attr-defined]
        z = np.where(ready & np.isfinite(pred), (values - pred) / sigma, 0.0)
        return z, pred, sigma

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        z, pred, sigma = self.zscores(slots, ts, values)
        ready = z != 0.0
        low = np.where(ready, pred - self.band_z * sigma, np.nan)
        high = np.where(ready, pred + self.band_z * sigma, np.nan)
        return z_to_score(z), low, high

    # -- learning ------------------------------------------------------------------------
    def _clipped(self, r: FloatArray, scale: FloatArray, n: IntArray) -> FloatArray:
        lim = self.clip_z * _GAUSS_MAD * scale
        warm = n >= self.warmup
        out: FloatArray = np.where(warm, np.clip(r, -lim, lim), r)
        return out

    def _learn_scale(self, col: str, cnt: str, slots: IntArray, r: FloatArray,
                     mask: FloatArray) -> None:
        scale = getattr(self, col)
        n = getattr(self, cnt)
        s = scale[slots]
        k = n[slots]
        a = np.maximum(self.scale_alpha, 1.0 / (k + 1.0))
        absr = np.minimum(np.abs(r), self.clip_z * _GAUSS_MAD * np.where(k >= self.warmup,
                                                                          s, np.inf))
        new = np.where(mask, s + a * (absr - s), s)
        scale[slots] = new
        n[slots] = k + mask

    def _learn_profile(self, prof: np.ndarray, spread: np.ndarray, slots: IntArray,
                       ts: FloatArray, values: FloatArray, period: float, scale_col: str,
                       cnt: str) -> None:
        pred, b0, b1, w = self._profile(prof, slots, ts, period)
        has = np.isfinite(pred)
        scale = getattr(self, scale_col)[slots]
        r = np.where(has, values - pred, 0.0)
        self._learn_scale(scale_col, cnt, slots, r, has)
        rc = self._clipped(r, scale, getattr(self, cnt)[slots])
        absr = np.abs(rc)
        a = self.profile_alpha
        for b, wt in ((b0, 1.0 - w), (b1, w)):
            cur = prof[slots, b].astype(np.float64)
            prof[slots, b] = np.where(np.isnan(cur), np.where(has, pred + rc, values),
                                      cur + a * wt * rc)
            sp = spread[slots, b].astype(np.float64)
            spread[slots, b] = np.where(has, np.where(np.isnan(sp), absr,
                                                      sp + a * wt * (absr - sp)), sp)

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        first = self.first_ts[slots]  # type: ignore[attr-defined]
        self.first_ts[slots] = np.where(np.isnan(first), ts, first)  # type: ignore[attr-defined]
        level = self.level[slots]  # type: ignore[attr-defined]
        level = np.where(np.isnan(level), values, level)
        z, _pred, _sigma = self.zscores(slots, ts, values)
        # consecutive far-out points of one sign re-baseline every model
        far = np.abs(z) > self.clip_z
        run = self.run[slots]  # type: ignore[attr-defined]
        run = np.where(far, np.where(np.sign(z) == np.sign(run), run + np.sign(z), np.sign(z)),
                       0).astype(np.int32)
        rebase = np.abs(run) >= self.rebaseline_after
        r0 = values - level
        n0 = self.n0[slots]  # type: ignore[attr-defined]
        s0 = self.scale0[slots]  # type: ignore[attr-defined]
        self._learn_scale("scale0", "n0", slots, r0, np.ones(slots.shape[0], dtype=bool))
        a = np.maximum(self.level_alpha, 1.0 / (n0 + 1.0))
        level = level + a * self._clipped(r0, s0, n0)
        self._learn_profile(self.prof_d, self.spread_d,  # type: ignore[attr-defined]
                            slots, ts, values, DAY, "scale_d", "n_d")
        self._learn_profile(self.prof_w, self.spread_w,  # type: ignore[attr-defined]
                            slots, ts, values, WEEK, "scale_w", "n_w")
        if rebase.any():
            rs = slots[rebase]
            shift = (values - _pred)[rebase]
            level[rebase] = values[rebase]
            self.prof_d[rs] += shift[:, None].astype(np.float32)  # type: ignore[attr-defined]
            self.prof_w[rs] += shift[:, None].astype(np.float32)  # type: ignore[attr-defined]
            run[rebase] = 0
        self.level[slots] = level  # type: ignore[attr-defined]
        self.run[slots] = run  # type: ignore[attr-defined]
