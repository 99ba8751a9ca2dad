"""Score post-processing: anomaly likelihood, onset reporting, pipelines and combinations.

A raw score says how odd a point is for its detector; it does not say how odd that is *for
this series*. A noisy series produces high raw scores all day. The anomaly likelihood
(Ahmad et al., "Unsupervised real-time anomaly detection for streaming data", 2017) asks a
better question: is the recent average raw score improbably high given the distribution of
averaged raw scores this series has shown so far? It is the tail probability of a short
average against a long-run normal fit, reported on a log scale so that a tail probability
of 1e-5 maps to 0.5 (see :func:`surprise_score`).

Post-processors are themselves keyed detectors whose input *values are scores*, so they are
vectorised across series the same way and snapshot the same way. :class:`Pipeline` chains a
detector with post-processors; :class:`Combine` merges several detectors' scores.

>>> import numpy as np
>>> from detectors.zscore import z_to_score
>>> z = np.random.default_rng(0).normal(0, 1, 3000)
>>> z[2500:2510] = 6.0                       # a burst of 6-sigma points
>>> lik = AnomalyLikelihood().score_learn_many(np.zeros(3000, dtype=int), np.arange(3000.0),
...                                            z_to_score(z))
>>> bool(lik[2505] > 0.5), bool(np.percentile(lik[1000:2400], 99) < 0.3)
(True, True)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import log_ndtr, ndtr

from detectors.base import (
    Assessment,
    Detector,
    FloatArray,
    IntArray,
    KeyedDetector,
    rounds_of,
)

_LN10 = float(np.log(10.0))


def surprise_score(surprise: FloatArray) -> FloatArray:
    """Map a surprise ``-log10(tail probability)`` to [0, 1): 1e-5 -> 0.5, monotone.

    Up to 1e-5 it is Numenta's log scale (``surprise / 10``); beyond, it approaches 1
    exponentially instead of clipping at 1e-10, so two strong anomalies keep their order
    (the correlator ranks root causes by this score): 1e-10 -> 0.82, 1e-20 -> 0.98.

    >>> [round(float(x), 3) for x in surprise_score(np.array([0.0, 3.0, 5.0, 10.0, 20.0]))]
    [0.0, 0.3, 0.5, 0.816, 0.975]
    """
    s = np.maximum(surprise, 0.0)
    out: FloatArray = s / 10.0
    far = s > 5.0
    if far.any():  # rare: keep the exponential off the common path
        out[far] = 1.0 - 0.5 * np.exp(-(s[far] - 5.0) / 5.0)
    return out


def score_surprise(score: FloatArray) -> FloatArray:
    """The inverse of :func:`surprise_score`: the surprise a score in [0, 1) stands for.

    Used to combine scores of several series (an entity's metrics) with a correction for
    the number of tests, e.g. ``surprise_score(score_surprise(s).max() - log10(m))``.

    >>> [round(float(x), 3) for x in score_surprise(np.array([0.0, 0.3, 0.5, 0.816]))]
    [0.0, 3.0, 5.0, 9.998]
    """
    s = np.clip(score, 0.0, 1.0 - 1e-16)
    out: FloatArray = np.where(s <= 0.5, 10.0 * s,
                               5.0 - 5.0 * np.log(2.0 * (1.0 - np.maximum(s, 0.5))))
    return out


def tail_surprise(x: FloatArray) -> FloatArray:
    """``-log10`` of the normal upper tail beyond ``x``, exact far out (no underflow)."""
    with np.errstate(divide="ignore"):  # an underflowed tail is replaced just below
        out: FloatArray = -np.log10(ndtr(-x))
    far = x > 5.0
    if far.any():  # where the tail nears underflow, its logarithm directly
        out[far] = -log_ndtr(-x[far]) / _LN10
    return out


class AnomalyLikelihood(KeyedDetector):
    """Tail probability of the short-term mean score against its long-run distribution."""

    name = "likelihood"
    version = 1
    _columns = {"n": ("i8", 0), "short": ("f8", 0.0), "mean": ("f8", 0.0),
                "var": ("f8", 0.0)}

    def __init__(self, *, short_window: int = 10, long_window: int = 2000,
                 warmup: int = 100, min_std: float = 0.02, log_input: bool = True) -> None:
        self.log_input = log_input
        self.short_alpha = 2.0 / (short_window + 1.0)
        self.long_alpha = 2.0 / (long_window + 1.0)
        self.warmup = warmup
        self.min_std = min_std
        super().__init__()

    def _params(self) -> dict[str, Any]:
        return {"short_alpha": self.short_alpha, "long_alpha": self.long_alpha,
                "warmup": self.warmup, "min_std": self.min_std, "log_input": self.log_input}

    def _short(self, slots: IntArray, values: FloatArray) -> FloatArray:
        if self.log_input:
            # a score s = 1 - p becomes the surprise -log10(p) / 12, which does not saturate
            values = -np.log10(np.maximum(1.0 - values, 1e-12)) / 12.0
        n = self.n[slots]  # type: ignore[attr-defined]
        prev = self.short[slots]  # type: ignore[attr-defined]
        a = np.maximum(self.short_alpha, 1.0 / (n + 1.0))
        out: FloatArray = prev + a * (values - prev)
        return out

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        short = self._short(slots, values)
        self._cache = (slots, short)  # the learning step of the same round reuses it
        mean = self.mean[slots]  # type: ignore[attr-defined]
        std = np.sqrt(self.var[slots]) + self.min_std  # type: ignore[attr-defined]
        surprise = tail_surprise((short - mean) / std)
        ready = self.n[slots] >= self.warmup  # type: ignore[attr-defined]
        nan = np.full(slots.shape[0], np.nan)
        return np.where(ready, surprise_score(surprise), 0.0), nan, nan

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        cached = self._cache
        self._cache = None
        short = (cached[1] if cached is not None and cached[0] is slots
                 else self._short(slots, values))
        n = self.n[slots]  # type: ignore[attr-defined]
        mean = self.mean[slots]  # type: ignore[attr-defined]
        var = self.var[slots]  # type: ignore[attr-defined]
        a = np.maximum(self.long_alpha, 1.0 / (n + 1.0))
        d = short - mean
        self.mean[slots] = mean + a * d  # type: ignore[attr-defined]
        self.var[slots] = (1.0 - a) * (var + a * d * d)  # type: ignore[attr-defined]
        self.short[slots] = short  # type: ignore[attr-defined]
        self.n[slots] = n + 1  # type: ignore[attr-defined]


class OnsetFilter(KeyedDetector):
    """Report a score only when it tops every score of the series within ``hold`` points.

    Alerting cares about onsets: the first point of a burst is news, the next hundred are
    not. For *any* threshold, a burst of high scores then yields one detection (more only
    if it keeps rising), without choosing that threshold here. Scores above ``ceiling``
    (the default is a likelihood tail of 1e-10) count as equal: past near-certainty, more
    evidence is not a new onset. Suppressed points score a
    small fraction of their value, so their order is kept but they sit below real onsets.

    The fixed ``hold`` hides a second incident that comes soon after the first. With
    ``rearm_count`` the peak is forgotten once the episode ended the way an alert resolves
    (``rearm_count`` points below ``rearm_ratio`` of the peak); with ``rise``, a score
    inside an episode is news only if it tops the last onset by ``rise`` (0.1 is a decade
    of tail probability on the likelihood's scale), so a slowly climbing score is one onset.
    """

    name = "onset"
    version = 2
    _columns = {"peak": ("f8", 0.0), "age": ("i8", 0), "calm": ("i8", 0)}

    def __init__(self, *, hold: int = 100, damp: float = 0.01,
                 ceiling: float = 0.8161, rearm_ratio: float = 0.0,
                 rearm_count: int = 0, rise: float = 0.0) -> None:
        self.hold = hold
        self.rise = rise
        self.ceiling = ceiling
        self.damp = damp
        self.rearm_ratio = rearm_ratio
        self.rearm_count = rearm_count
        super().__init__()

    def _params(self) -> dict[str, Any]:
        return {"hold": self.hold, "damp": self.damp, "ceiling": self.ceiling,
                "rearm_ratio": self.rearm_ratio, "rearm_count": self.rearm_count,
                "rise": self.rise}

    def _peak(self, slots: IntArray, age: IntArray) -> FloatArray:
        """The peak still in force: none once ``hold`` points passed, or once the episode
        ended (``rearm_count`` points below ``rearm_ratio`` of the peak, the alert
        policy's resolve rule relative to whatever threshold counted the onset)."""
        peak = self.peak[slots]  # type: ignore[attr-defined]
        over = age > self.hold
        if self.rearm_count > 0:
            over |= self.calm[slots] >= self.rearm_count  # type: ignore[attr-defined]
        out: FloatArray = np.where(over, 0.0, peak)
        return out

    def _score(self, slots: IntArray, ts: FloatArray, values: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
        peak = self._peak(slots, self.age[slots])  # type: ignore[attr-defined]
        nan = np.full(slots.shape[0], np.nan)
        news = np.minimum(values, self.ceiling) > self._bar(peak)
        return np.where(news, values, self.damp * values), nan, nan

    def _bar(self, peak: FloatArray) -> FloatArray:
        """What a score must top to be news: the peak, plus ``rise`` inside an episode."""
        if self.rise <= 0.0:
            return peak
        out: FloatArray = np.where(peak > 0.0, np.minimum(peak + self.rise, self.ceiling),
                                   0.0)
        return out

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        age = self.age[slots] + 1  # type: ignore[attr-defined]
        peak = self._peak(slots, age - 1)
        capped = np.minimum(values, self.ceiling)
        new = capped > self._bar(peak)
        calm = np.where(new | (values >= self.rearm_ratio * peak), 0,
                        self.calm[slots] + 1)  # type: ignore[attr-defined]
        self.peak[slots] = np.where(new, capped, peak)  # type: ignore[attr-defined]
        self.age[slots] = np.where(new, 0, age)  # type: ignore[attr-defined]
        self.calm[slots] = calm  # type: ignore[attr-defined]


class Pipeline:
    """A detector followed by post-processors; expected ranges come from the detector.

    When every stage is a :class:`KeyedDetector`, the later stages follow the first one's
    key index, so a batch's keys are interned once, not once per stage.
    """

    def __init__(self, detector: Detector, *post: KeyedDetector, name: str = "") -> None:
        self.detector = detector
        self.post = post
        self.name = name or "+".join([getattr(detector, "name", "detector")]
                                     + [p.name for p in post])
        self._shared = isinstance(detector, KeyedDetector)
        self._attach()

    def _attach(self) -> None:
        if isinstance(self.detector, KeyedDetector):
            for p in self.post:
                p.follow(self.detector)

    def assess_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                    timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Assessment:
        ts = np.asarray(timestamps, dtype=np.float64)
        vals = np.asarray(values, dtype=np.float64)
        head = self.detector
        if not isinstance(head, KeyedDetector):
            base = head.assess_many(keys, ts, vals)
            score = base.score
            finite = np.isfinite(vals)
            bad = ~(finite.all(axis=1) if finite.ndim == 2 else finite)
            for p in self.post:
                score = p.score_learn_many(keys, ts, np.where(bad, np.nan, score))
            return Assessment(score, base.low, base.high)
        if vals.shape[0] == 0:
            return head.assess_many(keys, ts, vals)
        slots = head._slots(keys)
        created, capacity = head._created, head._capacity
        rounds = rounds_of(slots)
        base = head.assess_slots(slots, ts, vals, rounds)
        score = base.score
        bad = ~np.isfinite(vals)
        masked = np.where(bad, np.nan, score) if bad.any() else score
        for p in self.post:
            p.sync_slots(created, capacity)
            score = p.assess_slots(slots, ts, masked, rounds).score
            masked = np.where(bad, np.nan, score) if bad.any() else score
        return Assessment(score, base.low, base.high)

    def score_learn_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                         timestamps: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def score_one(self, key: Hashable, ts: float, value: float) -> float:
        s = self.detector.score_one(key, ts, value)
        for p in self.post:
            s = p.score_one(key, ts, s)
        return s

    def learn_one(self, key: Hashable, ts: float, value: float) -> None:
        self.assess_many([key], [ts], [value])

    def snapshot(self) -> dict[str, Any]:
        return {"detector": self.name, "version": 1,
                "stages": [self.detector.snapshot()] + [p.snapshot() for p in self.post]}

    def restore(self, state: dict[str, Any]) -> None:
        stages = state["stages"]
        self.detector.restore(stages[0])
        for p, st in zip(self.post, stages[1:], strict=True):
            p.restore(st)
        self._attach()

    def forget(self, keys: Sequence[Hashable]) -> None:
        head = self.detector
        if isinstance(head, KeyedDetector):
            gone = [head._index[k] for k in keys if k in head._index]
            head.forget(keys)
            for p in self.post:
                p.sync_slots(gone, head._capacity)
            return
        head.forget(keys)
        for p in self.post:
            p.forget(keys)

    def idle_keys(self, before_ts: float) -> list[Hashable]:
        head = self.detector
        return head.idle_keys(before_ts) if isinstance(head, KeyedDetector) else []

    def __len__(self) -> int:
        return len(self.detector)


class Combine:
    """Several detectors on the same points, merged by ``max`` or ``mean`` of scores."""

    def __init__(self, *detectors: Detector, how: str = "max", name: str = "") -> None:
        if how not in ("max", "mean"):
            raise ValueError("how must be 'max' or 'mean'")
        self.detectors = detectors
        self.how = how
        self.name = name or f"{how}(" + ",".join(getattr(d, "name", "?") for d in detectors) + ")"

    def assess_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                    timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Assessment:
        parts = [d.assess_many(keys, timestamps, values) for d in self.detectors]
        stack = np.vstack([p.score for p in parts])
        score = stack.max(axis=0) if self.how == "max" else stack.mean(axis=0)
        return Assessment(score, parts[0].low, parts[0].high)

    def score_learn_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                         timestamps: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def score_one(self, key: Hashable, ts: float, value: float) -> float:
        s = [d.score_one(key, ts, value) for d in self.detectors]
        return max(s) if self.how == "max" else float(np.mean(s))

    def learn_one(self, key: Hashable, ts: float, value: float) -> None:
        self.assess_many([key], [ts], [value])

    def snapshot(self) -> dict[str, Any]:
        return {"detector": self.name, "version": 1,
                "parts": [d.snapshot() for d in self.detectors]}

    def restore(self, state: dict[str, Any]) -> None:
        for d, st in zip(self.detectors, state["parts"], strict=True):
            d.restore(st)

    def forget(self, keys: Sequence[Hashable]) -> None:
        for d in self.detectors:
            d.forget(keys)

    def __len__(self) -> int:
        return len(self.detectors[0])
