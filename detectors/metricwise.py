"""An entity's vector judged metric by metric: one univariate detector per column.

An entity (a service, a server) reports a vector of signals per interval. Judging the
vector as a whole (:class:`~detectors.iforest.EntityIsolationForest`) needs many intervals
before its forest knows what normal is, and its scores are not tail probabilities. Here
every column is its own series for a univariate detector, so each signal is judged against
its own history on the likelihood's scale (a tail probability ``p_j`` per signal), and the
entity's tail probability combines them.

How they combine decides what "the entity behaves unlike itself" means:

* ``"stouffer"`` (the default): the signals vote. Each ``p_j`` becomes the normal quantile
  ``z_j`` it stands for (the likelihood's own z) and the entity's is
  ``sum(z_j) / sqrt(m)``, Stouffer's combination, exactly standard normal when the signals
  are calm and independent. A deviation corroborated by several signals adds up; one signal
  far out while the others sit calm is tempered by them (a single signal needs
  ``sqrt(m)`` times the z it would need alone). A lone spiky signal is the per-series
  alerter's business, which runs beside this one on every series: the entity alert is for
  the service as a whole.
* ``"max"``: the entity's most surprising signal less ``log10(m)`` (Bonferroni for the m
  tests): any one signal far enough out suffices.

On the ASD servers (12 servers x 19 metrics, ``BENCHMARKS.md``) the max raised 196 false
alerts at 0.5, 156 of them single spikes of the few metrics that mostly sit still, in steps
of 0.01, and are not what the servers' operators labelled; Stouffer's vote halved them and
found more of the labelled windows. The default inner detector also measures each signal
at its resolution (``EnsembleDetector(resolution=1.0)``: a step of one quantum on a signal
that mostly sits still is not a many-sigma jump). Either way the score keeps its meaning:
0.5 is a tail probability of 1e-5 for the entity as a whole.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(0, 1, (600, 4))
>>> x[550:553, :3] += 6.0                    # three of four signals go out together
>>> s = MetricwiseDetector().score_learn_many(["svc"] * 600, np.arange(600.0) * 60, x)
>>> bool(s[550:553].max() > 0.5), bool(np.percentile(s[100:550], 99) < 0.5)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from aiops.model import ConfigError
from detectors.base import Assessment, Detector, FloatArray, SnapshotError
from detectors.ensemble import EnsembleDetector
from detectors.postprocess import score_surprise, surprise_score, tail_surprise

Combination = Literal["stouffer", "max"]
COMBINATIONS: tuple[Combination, ...] = ("stouffer", "max")


def entity_signal_detector() -> EnsembleDetector:
    """The univariate detector each signal of an entity gets: the default ensemble,
    measuring a signal at its resolution (its smallest step)."""
    return EnsembleDetector(min_points=20, seasonal_warmup=20, resolution=1.0)


def stouffer(block: FloatArray) -> FloatArray:
    """Per row, the score of Stouffer's combination of the columns' tail probabilities.

    Scores are on :func:`~detectors.postprocess.surprise_score`'s scale; each stands for a
    tail probability ``p``, hence the normal quantile ``z = Phi^-1(1 - p)``; the row's
    ``sum(z) / sqrt(m)`` is standard normal when its columns are calm and independent.

    >>> s = np.array([[0.5, 0.5, 0.5, 0.5],      # four signals at 1e-5 each
    ...               [0.9, 0.03, 0.03, 0.03]])  # one far out, three calm (p = 0.5)
    >>> [round(float(x), 2) for x in stouffer(s)]
    [0.96, 0.39]
    """
    m = block.shape[1]
    p = np.clip(10.0 ** -score_surprise(block), 1e-300, 1.0 - 1e-12)
    z = -ndtri(p)
    out: FloatArray = surprise_score(tail_surprise(z.sum(axis=1) / np.sqrt(m)))
    return out


def score_z(score: npt.ArrayLike) -> FloatArray:
    """The normal quantile a score's tail probability stands for (0 for no surprise).

    It is how far out, in sigmas, an entity's combined deviation is (Stouffer's statistic
    itself for that combination): the measure the alert policy escalates on, as it does on a
    series' distance from its held range. Tails too small for floats keep their order.

    >>> [round(float(x), 2) for x in score_z(np.array([0.0, 0.3, 0.5, 0.96]))]
    [0.0, 3.09, 4.26, 8.66]
    """
    s = score_surprise(np.atleast_1d(np.asarray(score, dtype=np.float64)))
    p = np.clip(10.0 ** -s, 1e-300, 0.5)
    out: FloatArray = 0.0 - ndtri(p)
    return out


def bonferroni_max(block: FloatArray) -> FloatArray:
    """Per row, the score of its largest column less ``log10(m)`` (Bonferroni).

    >>> [round(float(x), 2) for x in bonferroni_max(np.array([[0.9, 0.03, 0.03, 0.03]]))]
    [0.89]
    """
    worst = score_surprise(block).max(axis=1) - np.log10(block.shape[1])
    out: FloatArray = surprise_score(np.maximum(worst, 0.0))
    return out


class MetricwiseDetector:
    """Each column by its own univariate detector; the columns' tails combined."""

    name = "metricwise"
    version = 2

    def __init__(self, factory: Callable[[], Detector] | None = None, *,
                 combine: Combination = "stouffer") -> None:
        if combine not in COMBINATIONS:
            raise ConfigError(f"combine must be one of {', '.join(COMBINATIONS)}; "
                              f"got {combine!r}", source="combine")
        self.combine: Combination = combine
        self.inner: Detector = factory() if factory is not None else entity_signal_detector()
        self._width: dict[Hashable, int] = {}

    def assess_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                    timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Assessment:
        vals = np.asarray(values, dtype=np.float64)
        ts = np.asarray(timestamps, dtype=np.float64)
        if vals.ndim == 1:
            vals = vals[:, None]
        n, m = vals.shape
        nan = np.full(n, np.nan)
        if n == 0:
            return Assessment(np.zeros(0), nan, nan)
        entity = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        for k in entity:
            self._width.setdefault(k, m)
        flat = [(k, j) for k in entity for j in range(m)]
        res = self.inner.assess_many(flat, np.repeat(ts, m), vals.reshape(-1))
        if m == 1:
            return Assessment(res.score, res.low, res.high)
        return Assessment(self._combine(res.score.reshape(n, m)), nan, nan)

    def _combine(self, block: FloatArray) -> FloatArray:
        return stouffer(block) if self.combine == "stouffer" else bonferroni_max(block)

    def score_learn_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                         timestamps: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def score_one(self, key: Hashable, ts: float, value: float | npt.ArrayLike) -> float:
        """Score one entity vector (or one value) without learning it."""
        vec = np.atleast_1d(np.asarray(value, dtype=np.float64))
        scores = np.array([[self.inner.score_one((key, j), ts, float(v))
                            for j, v in enumerate(vec.tolist())]])
        return float(scores[0, 0] if vec.shape[0] == 1 else self._combine(scores)[0])

    def learn_one(self, key: Hashable, ts: float, value: float | npt.ArrayLike) -> None:
        self.assess_many([key], [ts], np.atleast_1d(np.asarray(value, dtype=np.float64))[None])

    def snapshot(self) -> dict[str, Any]:
        return {"detector": self.name, "version": self.version, "combine": self.combine,
                "inner": self.inner.snapshot(), "width": dict(self._width)}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("detector") != self.name or state.get("version") != self.version:
            raise SnapshotError(f"snapshot is {state.get('detector')!r}", detector=self.name)
        if state.get("combine") != self.combine:
            raise SnapshotError(f"snapshot combines by {state.get('combine')!r}",
                                detector=self.name)
        self.inner.restore(state["inner"])
        self._width = dict(state["width"])

    def forget(self, keys: Sequence[Hashable]) -> None:
        gone: list[Hashable] = []
        for k in keys:
            m = self._width.pop(k, None)
            if m is not None:
                gone.extend((k, j) for j in range(m))
        self.inner.forget(gone)

    def __len__(self) -> int:
        return len(self._width)
