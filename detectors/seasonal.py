"""Seasonal baseline: daily and weekly profiles with robust running location and scale.

Operational metrics follow the clock: traffic peaks at noon and sags on Sundays. A detector
that ignores that either alarms every morning or is too blunt to see a real dip. Per series
this keeps three competing baselines and judges each point by the one that currently
predicts best (lowest running residual scale):

* a non-seasonal level (an EWMA), which is all a new series has (cold start);
* a daily profile, 96 quarter-hour buckets, interpolated linearly between bucket centres so
  a 5-minute series is not judged against a step function;
* a weekly profile, 168 hour-of-week buckets, likewise interpolated.

Each bucket also keeps its own residual spread, because noise follows the clock too (rush
hour is noisier than 3 a.m.); a point is judged by the spread at its time of day or week,
shrunk halfway to the model's global scale.

Every baseline learns with the residual clipped to ``clip_z`` scales (a Huber-style robust
update): an outlier barely moves the baseline it is judged against (filter before learn),
while a level shift, which keeps producing clipped residuals of the same sign, walks the
baseline over within a bounded time, and ``rebaseline_after`` consecutive far-out points of
the same sign jump it there (a persistent level is the new normal, not an endless alarm).
Gaps are harmless: buckets are addressed by the timestamp, not by a sample count, so
irregular sampling and missing hours only slow learning down.

State per series: a few scalars, 264 float32 bucket locations and 264 float16 bucket
spreads (stored relative to the model's global scale, where float16 is precise enough),
1648 bytes.

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

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

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

    def __init__(self, *, level_alpha: float = 0.02, profile_alpha: float = 0.15,
                 scale_alpha: float = 0.01, warmup: int = 30, clip_z: float = 4.0,
                 rebaseline_after: int = 60, band_z: float = 4.0,
                 local_scale: bool = True, daily_buckets: int = 96,
                 weekly_buckets: int = 168) -> None:
        self.local_scale = local_scale
        self.daily_buckets = daily_buckets
        self.weekly_buckets = weekly_buckets
        self._vectors = {"prof_d": ("f4", np.nan, daily_buckets),
                         "spr_d": ("f2", np.nan, daily_buckets),
                         "prof_w": ("f4", np.nan, weekly_buckets),
                         "spr_w": ("f2", np.nan, weekly_buckets)}
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
                "clip_z": self.clip_z, "rebaseline_after": self.rebaseline_after,
                "daily_buckets": self.daily_buckets, "weekly_buckets": self.weekly_buckets}

    # -- geometry ------------------------------------------------------------------------
    @staticmethod
    def _buckets(ts: FloatArray, period: float, n: int) -> tuple[IntArray, IntArray, FloatArray]:
        """Neighbouring bucket indexes and the weight of the second, for interpolation."""
        offset = 3 * DAY if period == WEEK else 0.0  # weeks start on Monday 00:00 UTC
        pos = np.fmod(ts + offset, period)
        pos *= n / period
        pos -= 0.5
        b0f = np.floor(pos)
        w = pos - b0f
        b0 = b0f.astype(np.int64)
        if (b0 < 0).any():  # before the first bucket centre, or before 1970
            b0 %= n
        b1 = b0 + 1
        b1[b1 == n] = 0
        return b0, b1, w

    def _view(self, slots: IntArray, ts: FloatArray, period: float) -> _ProfileView:
        daily = period == DAY
        prof = self.prof_d if daily else self.prof_w  # type: ignore[attr-defined]
        spread = self.spr_d if daily else self.spr_w  # type: ignore[attr-defined]
        glob = (self.scale_d if daily else self.scale_w)[slots]  # type: ignore[attr-defined]
        n = prof.shape[1]
        b0, b1, w = self._buckets(ts, period, n)
        base = slots * n
        f0 = base + b0
        f1 = base + b1
        flat = prof.reshape(-1)
        sflat = spread.reshape(-1)
        # the neighbours are read once here and reused by the learning step
        p0 = flat[f0].astype(np.float64)
        p1 = flat[f1].astype(np.float64)
        s0 = sflat[f0].astype(np.float64)
        s1 = sflat[f1].astype(np.float64)
        pred = _interpolate(p0, p1, w)
        scale = glob
        if self.local_scale:
            ratio = _interpolate(s0, s1, w)
            # the bucket's spread, shrunk halfway to the model's global scale
            scale = np.where(np.isfinite(ratio), 0.5 * glob * (1.0 + ratio), glob)
        return _ProfileView(prof, spread, f0, f1, w, pred, glob, scale, (p0, p1), (s0, s1))

    # -- scoring -------------------------------------------------------------------------
    def _assess(self, slots: IntArray, ts: FloatArray, values: FloatArray) -> _Pass:
        """Everything one round needs, computed once for scoring and reused for learning."""
        day = self._view(slots, ts, DAY)
        week = self._view(slots, ts, WEEK)
        level = self.level[slots]  # type: ignore[attr-defined]
        pred = level
        scale = self.scale0[slots]  # type: ignore[attr-defined]
        age = ts - self.first_ts[slots]  # type: ignore[attr-defined]
        sd = day.scale
        use_d = ((age >= 2 * DAY) & (self.n_d[slots] >= self.warmup)  # type: ignore[attr-defined]
                 & np.isfinite(day.pred) & (sd < scale))
        pred = np.where(use_d, day.pred, pred)
        scale = np.where(use_d, sd, scale)
        sw = week.scale
        use_w = ((age >= 2 * WEEK) & (self.n_w[slots] >= self.warmup)  # type: ignore[attr-defined]
                 & np.isfinite(week.pred) & (sw < scale))
        pred = np.where(use_w, week.pred, pred)
        scale = np.where(use_w, sw, scale)
        sigma = _GAUSS_MAD * scale + 1e-9 * (1.0 + np.abs(pred))
        ready = (self.n0[slots] >= self.warmup) & np.isfinite(pred)  # type: ignore[attr-defined]
        z = np.where(ready, (values - pred) / sigma, 0.0)
        return _Pass(slots, day, week, z, pred, sigma)

    def zscores(self, slots: IntArray, ts: FloatArray, values: FloatArray
                ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Signed z of each point against its best baseline, with prediction and sigma."""
        p = self._assess(slots, ts, values)
        return p.z, p.pred, p.sigma

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        p = self._assess(slots, ts, values)
        self._cache = p
        ready = np.isfinite(p.pred) & (self.n0[slots] >= self.warmup)  # type: ignore[attr-defined]
        low = np.where(ready, p.pred - self.band_z * p.sigma, np.nan)
        high = np.where(ready, p.pred + self.band_z * p.sigma, np.nan)
        return z_to_score(p.z), low, high

    # -- learning ------------------------------------------------------------------------
    def _clipped(self, r: FloatArray, scale: FloatArray, n: IntArray) -> FloatArray:
        lim = self.clip_z * _GAUSS_MAD * scale
        warm = n >= self.warmup
        out: FloatArray = np.where(warm, np.clip(r, -lim, lim), r)
        return out

    def _learn_scale(self, col: str, cnt: str, slots: IntArray, r: FloatArray,
                     mask: npt.NDArray[np.bool_]) -> None:
        scale = getattr(self, col)
        n = getattr(self, cnt)
        s = scale[slots]
        k = n[slots]
        a = np.maximum(self.scale_alpha, 1.0 / (k + 1.0))
        absr = np.minimum(np.abs(r), self.clip_z * _GAUSS_MAD * np.where(k >= self.warmup,
                                                                          s, np.inf))
        scale[slots] = np.where(mask, s + a * (absr - s), s)
        n[slots] = k + mask

    def _learn_profile(self, view: _ProfileView, slots: IntArray, values: FloatArray,
                       scale_col: str, cnt: str) -> None:
        pred = view.pred
        has = np.isfinite(pred)
        r = np.where(has, values - pred, 0.0)
        n = getattr(self, cnt)[slots]
        self._learn_scale(scale_col, cnt, slots, r, has)
        rc = self._clipped(r, view.glob, n)
        ratio = np.minimum(np.abs(rc) / np.maximum(view.glob, 1e-300), 1e3)
        # bucket spreads are relative to the global scale, so they wait until it is known
        spread_ok = has & (n >= self.warmup) & (view.glob > 0.0)
        a = self.profile_alpha
        flat = view.prof.reshape(-1)
        sflat = view.spread.reshape(-1)
        fill = np.where(has, pred + rc, values)
        for f, wt, cur, sp in ((view.f0, 1.0 - view.w, view.locs[0], view.spreads[0]),
                               (view.f1, view.w, view.locs[1], view.spreads[1])):
            flat[f] = np.where(np.isnan(cur), fill, cur + a * wt * rc)
            sflat[f] = np.where(spread_ok, np.where(np.isnan(sp), ratio,
                                                    sp + a * wt * (ratio - sp)), sp)

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        p = self._cache
        self._cache = None
        if not isinstance(p, _Pass) or p.slots is not slots:
            p = self._assess(slots, ts, values)
        first = self.first_ts[slots]  # type: ignore[attr-defined]
        self.first_ts[slots] = np.where(np.isnan(first), ts, first)  # type: ignore[attr-defined]
        level = self.level[slots]  # type: ignore[attr-defined]
        level = np.where(np.isnan(level), values, level)
        z = p.z
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
        self._learn_profile(p.day, slots, values, "scale_d", "n_d")
        self._learn_profile(p.week, slots, values, "scale_w", "n_w")
        if rebase.any():
            rs = slots[rebase]
            shift = (values - p.pred)[rebase]
            level[rebase] = values[rebase]
            step = shift[:, None].astype(np.float32)
            self.prof_d[rs] += step  # type: ignore[attr-defined]
            self.prof_w[rs] += step  # type: ignore[attr-defined]
            run[rebase] = 0
        self.level[slots] = level  # type: ignore[attr-defined]
        self.run[slots] = run  # type: ignore[attr-defined]


def _interpolate(a: FloatArray, b: FloatArray, w: FloatArray) -> FloatArray:
    """Linear interpolation between two buckets; one missing bucket yields the other."""
    out: FloatArray = a + w * (b - a)
    miss_a = np.isnan(a)
    if miss_a.any():
        out[miss_a] = b[miss_a]
    miss_b = np.isnan(b) & ~miss_a
    if miss_b.any():
        out[miss_b] = a[miss_b]
    return out


@dataclass(slots=True)
class _ProfileView:
    prof: npt.NDArray[np.float32]
    spread: npt.NDArray[np.float16]
    f0: IntArray
    f1: IntArray
    w: FloatArray
    pred: FloatArray
    glob: FloatArray
    scale: FloatArray
    locs: tuple[FloatArray, FloatArray]
    spreads: tuple[FloatArray, FloatArray]


@dataclass(slots=True)
class _Pass:
    slots: IntArray
    day: _ProfileView
    week: _ProfileView
    z: FloatArray
    pred: FloatArray
    sigma: FloatArray
