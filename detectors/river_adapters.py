"""River's online anomaly detectors behind the detector contract, one model per series.

River scores one point at a time and has no batch form, so these adapters loop in Python;
they exist as the reference the project's own detectors are measured against and as an
alternative for users who already trust River. HalfSpaceTrees assumes features in [0, 1],
so the adapter puts River's own ``MinMaxScaler`` in front of it (River's documented recipe).

>>> det = river_half_space_trees(seed=1)
>>> s = det.score_learn_many(["a"] * 300, range(300), [1.0] * 299 + [50.0])
>>> bool(0.0 <= s.min() and s.max() <= 1.0)
True
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.base import Assessment, FloatArray, SnapshotError

RiverAnomalyModel = Any  # River's estimators; learn_one/score_one signatures vary by kind


class RiverDetector:
    """One River model per series, built by ``factory``; ``squash`` maps its score to [0, 1]."""

    def __init__(self, factory: Callable[[], RiverAnomalyModel], *, name: str,
                 squash: Callable[[float], float] | None = None,
                 value_as_target: bool = False) -> None:
        self.factory = factory
        # River's univariate detectors (StandardAbsoluteDeviation) take the value as y
        self.value_as_target = value_as_target
        self.name = name
        self.squash = squash
        self._models: dict[Hashable, RiverAnomalyModel] = {}

    def _model(self, key: Hashable) -> RiverAnomalyModel:
        model = self._models.get(key)
        if model is None:
            model = self._models[key] = self.factory()
        return model

    def _clean(self, raw: float) -> float:
        s = self.squash(raw) if self.squash is not None else raw
        if not math.isfinite(s):
            return 0.0
        return min(1.0, max(0.0, s))

    def score_one(self, key: Hashable, ts: float, value: float) -> float:
        if not math.isfinite(value) or key not in self._models:
            return 0.0
        return self._clean(self._models[key].score_one(*self._args(float(value))))

    def _args(self, value: float) -> tuple[Any, ...]:
        return ({}, value) if self.value_as_target else ({"x": value},)

    def learn_one(self, key: Hashable, ts: float, value: float) -> None:
        if math.isfinite(value):
            self._model(key).learn_one(*self._args(float(value)))

    def assess_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                    timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Assessment:
        vals = np.asarray(values, dtype=np.float64)
        keys_list = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        out = np.zeros(vals.shape[0])
        for i, (key, v) in enumerate(zip(keys_list, vals.tolist(), strict=True)):
            if not math.isfinite(v):
                continue
            model = self._model(key)
            args = self._args(v)
            out[i] = self._clean(model.score_one(*args))
            model.learn_one(*args)
        nan = np.full(vals.shape[0], np.nan)
        return Assessment(out, nan, nan)

    def score_learn_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                         timestamps: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def snapshot(self) -> dict[str, Any]:
        return {"detector": self.name, "version": 1,
                "models": {k: pickle.dumps(m) for k, m in self._models.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("detector") != self.name:
            raise SnapshotError(f"snapshot is {state.get('detector')!r}", detector=self.name)
        self._models = {k: pickle.loads(v) for k, v in state["models"].items()}

    def forget(self, keys: Sequence[Hashable]) -> None:
        for k in keys:
            self._models.pop(k, None)

    def __len__(self) -> int:
        return len(self._models)


def river_half_space_trees(*, n_trees: int = 10, height: int = 8, window_size: int = 250,
                           seed: int = 42) -> RiverDetector:
    """River's HalfSpaceTrees (defaults: 10 trees, height 8, window 250) after MinMaxScaler."""
    from river import anomaly, compose, preprocessing

    def build() -> RiverAnomalyModel:
        model: RiverAnomalyModel = compose.Pipeline(
            preprocessing.MinMaxScaler(),
            anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size,
                                   seed=seed))
        return model

    return RiverDetector(build, name="river-hst")


def river_standard_absolute_deviation() -> RiverDetector:
    """River's StandardAbsoluteDeviation; its |x - mean| / std is squashed like a z-score."""
    from river import anomaly

    def build() -> RiverAnomalyModel:
        model: RiverAnomalyModel = anomaly.StandardAbsoluteDeviation()
        return model

    return RiverDetector(build, name="river-sad", squash=lambda z: math.erf(z / math.sqrt(2)),
                         value_as_target=True)
