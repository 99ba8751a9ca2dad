"""Online IsolationForest: multivariate per entity, fitted on a sliding window.

Some failures only show in the joint behaviour of a service's signals: cpu normal, latency
normal, but cpu low *while* latency is high. This detector takes one vector per entity per
interval (say cpu, memory, latency, error rate of a service), keeps the last ``window``
vectors per entity, and fits a scikit-learn ``IsolationForest`` on them: first once
``min_fit`` vectors exist, then every ``refit_every`` vectors, or earlier on drift (when the
mean score of recent points stays above ``drift_score``, the window no longer describes the
present). It never refits per point, and scores each entity's points of a batch in one
``score_samples`` call (a micro-batch) against the forest fitted before the batch.

Values may be a 1-D array (one feature) or a 2-D ``(n, features)`` array. The score is
IsolationForest's own ``2 ** (-E[h] / c(n))``, rescaled so 0.5 (the expected score of a
normal point) maps to 0 and 1 stays 1.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(0, 1, (600, 2)); x[:, 1] = x[:, 0] + rng.normal(0, 0.1, 600)
>>> x[-1] = [4.0, 4.0]                      # far outside the joint cloud
>>> det = EntityIsolationForest(window=256, min_fit=128, refit_every=128, seed=1)
>>> s = det.score_learn_many(["svc"] * 600, np.arange(600.0), x)
>>> bool(s[-1] > np.percentile(s[300:-1], 99))
True
"""

from __future__ import annotations

import pickle
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import IsolationForest

from detectors.base import Assessment, FloatArray, SnapshotError


@dataclass(slots=True)
class _Entity:
    buffer: FloatArray
    filled: int = 0
    head: int = 0
    since_fit: int = 0
    fits: int = 0
    recent: float = 0.0
    forest: IsolationForest | None = field(default=None)

    def window(self) -> FloatArray:
        if self.filled < self.buffer.shape[0]:
            return self.buffer[: self.filled]
        return np.roll(self.buffer, -self.head, axis=0)


class EntityIsolationForest:
    """A sliding-window IsolationForest per entity, refitted on a schedule or on drift."""

    name = "iforest"

    def __init__(self, *, window: int = 512, min_fit: int = 128, refit_every: int = 256,
                 n_estimators: int = 50, max_samples: int = 256, drift_score: float = 0.4,
                 seed: int = 0) -> None:
        self.window = window
        self.min_fit = min_fit
        self.refit_every = refit_every
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.drift_score = drift_score
        self.seed = seed
        self._entities: dict[Hashable, _Entity] = {}

    def _fit(self, ent: _Entity) -> None:
        data = ent.window()
        forest = IsolationForest(n_estimators=self.n_estimators,
                                 max_samples=min(self.max_samples, data.shape[0]),
                                 random_state=self.seed + ent.fits)
        forest.fit(data)
        ent.forest = forest
        ent.since_fit = 0
        ent.fits += 1
        ent.recent = 0.0

    def _push(self, ent: _Entity, rows: FloatArray) -> None:
        for row in rows:
            ent.buffer[ent.head] = row
            ent.head = (ent.head + 1) % ent.buffer.shape[0]
            ent.filled = min(ent.filled + 1, ent.buffer.shape[0])
        ent.since_fit += rows.shape[0]

    def _score_rows(self, ent: _Entity, rows: FloatArray) -> FloatArray:
        if ent.forest is None:
            return np.zeros(rows.shape[0])
        raw = -ent.forest.score_samples(rows)
        out: FloatArray = np.clip((raw - 0.5) * 2.0, 0.0, 1.0)
        return out

    def assess_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                    timestamps: npt.ArrayLike, values: npt.ArrayLike) -> Assessment:
        vals = np.asarray(values, dtype=np.float64)
        if vals.ndim == 1:
            vals = vals[:, None]
        n = vals.shape[0]
        keys_list = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        score = np.zeros(n)
        finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(vals).all(axis=1))
        groups: dict[Hashable, list[int]] = {}
        for i, k in enumerate(keys_list):
            if finite[i]:
                groups.setdefault(k, []).append(i)
        for key, idx in groups.items():
            ent = self._entities.get(key)
            if ent is None:
                ent = self._entities[key] = _Entity(np.zeros((self.window, vals.shape[1])))
            pos_all = np.asarray(idx)
            start = 0
            while start < pos_all.shape[0]:
                # a micro-batch runs up to the next scheduled fit, so a long batch is
                # scored by the forest a stream of small batches would have seen
                due_in = (self.min_fit - ent.filled if ent.forest is None
                          else self.refit_every - ent.since_fit)
                pos = pos_all[start:start + max(1, due_in)]
                start += pos.shape[0]
                rows = vals[pos]
                s = self._score_rows(ent, rows)
                score[pos] = s
                self._push(ent, rows)
                if ent.forest is not None:
                    ent.recent = 0.9 * ent.recent + 0.1 * float(s.mean())
                due = ent.forest is None and ent.filled >= self.min_fit
                due = due or (ent.forest is not None and ent.since_fit >= self.refit_every)
                drift = (ent.forest is not None and ent.recent > self.drift_score
                         and ent.since_fit >= self.min_fit // 2)
                if due or drift:
                    self._fit(ent)
        nan = np.full(n, np.nan)
        return Assessment(score, nan, nan)

    def score_learn_many(self, keys: Sequence[Hashable] | npt.NDArray[Any],
                         timestamps: npt.ArrayLike, values: npt.ArrayLike) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def score_one(self, key: Hashable, ts: float, value: float) -> float:
        ent = self._entities.get(key)
        row = np.atleast_2d(np.asarray(value, dtype=np.float64))
        if ent is None or not np.isfinite(row).all():
            return 0.0
        return float(self._score_rows(ent, row)[0])

    def learn_one(self, key: Hashable, ts: float, value: float) -> None:
        self.assess_many([key], [ts], np.atleast_2d(np.asarray(value, dtype=np.float64)))

    def snapshot(self) -> dict[str, Any]:
        """Windows, counters and the fitted forests (pickled: refits would differ)."""
        return {"detector": self.name, "version": 1, "entities": {
            k: {"window": e.window().copy(), "since_fit": e.since_fit, "fits": e.fits,
                "recent": e.recent,
                "forest": pickle.dumps(e.forest) if e.forest is not None else None}
            for k, e in self._entities.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("detector") != self.name:
            raise SnapshotError(f"snapshot is {state.get('detector')!r}", detector=self.name)
        self._entities = {}
        for key, st in state["entities"].items():
            data = np.asarray(st["window"], dtype=np.float64)
            ent = _Entity(np.zeros((self.window, data.shape[1])))
            self._push(ent, data)
            ent.fits = int(st["fits"])
            ent.forest = pickle.loads(st["forest"]) if st["forest"] is not None else None
            ent.since_fit = int(st["since_fit"])
            ent.recent = float(st["recent"])
            self._entities[key] = ent

    def forget(self, keys: Sequence[Hashable]) -> None:
        for k in keys:
            self._entities.pop(k, None)

    def __len__(self) -> int:
        return len(self._entities)
