"""The detector contract and the keyed, vectorised base most detectors build on.

A detector scores points of many series at once. It follows River's shape for single points
(``score_one`` then ``learn_one``) and adds the batch form the hot path uses,
``score_learn_many(keys, timestamps, values) -> scores``, which scores every point against
the state *before* it and then learns it, in event order per series, without a Python loop
per point where the math allows. Scores are in ``[0, 1]``: 0 is normal, 1 is as abnormal as
the detector can say.

:class:`KeyedDetector` does the bookkeeping every per-series detector needs, so that each
concrete detector writes only two vectorised functions, ``_score`` and ``_learn``, over
arrays of *distinct* series slots:

* keys are interned into dense slots (``int`` indexes into state arrays that grow by
  a quarter, once per batch), so per-series state is a column in a handful of numpy arrays;
* a batch in which one series appears several times is processed in *rounds*: round ``r``
  holds every series' ``r``-th point of the batch, so each round touches each slot at most
  once and sequential semantics per series are kept;
* non-finite values score 0 and are not learnt; points older than the series' last learnt
  timestamp (out of order) are scored but not learnt;
* :meth:`forget` and :meth:`evict_idle` drop vanished series; :meth:`snapshot` and
  :meth:`restore` move the whole state (checkpoints, partition moves).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from aiops.model import AiopsError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class SnapshotError(AiopsError):
    """A snapshot does not belong to this kind of detector or is from another version."""

    def __init__(self, reason: str, *, detector: str) -> None:
        super().__init__(f"{detector}: cannot restore snapshot: {reason}")
        self.reason = reason
        self.detector = detector


@dataclass(frozen=True, slots=True)
class Assessment:
    """Scores of a batch plus the range each point was expected in (NaN when unknown)."""

    score: FloatArray
    low: FloatArray
    high: FloatArray


@runtime_checkable
class Detector(Protocol):
    """What every detector offers. ``key`` names a series (any hashable, usually a string)."""

    def score_one(self, key: Hashable, ts: float, value: float) -> float: ...

    def learn_one(self, key: Hashable, ts: float, value: float) -> None: ...

    def score_learn_many(
        self, keys: Sequence[Hashable] | npt.NDArray[Any], timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> FloatArray: ...

    def assess_many(
        self, keys: Sequence[Hashable] | npt.NDArray[Any], timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> Assessment: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...

    def forget(self, keys: Sequence[Hashable]) -> None: ...

    def __len__(self) -> int: ...


def rounds_of(slots: IntArray) -> list[IntArray]:
    """Split batch positions into rounds in which every slot occurs at most once.

    Round ``r`` holds, for every slot, the position of its ``r``-th occurrence, so running
    the rounds in order keeps each series' points in batch order.

    >>> [r.tolist() for r in rounds_of(np.array([4, 2, 4, 4, 7]))]
    [[0, 1, 4], [2], [3]]
    """
    n = slots.shape[0]
    if n == 0:
        return []
    if n == 1 or np.bincount(slots).max() <= 1:  # the usual batch: one point per series
        return [np.arange(n)]
    order = np.argsort(slots, kind="stable")
    sorted_slots = slots[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(sorted_slots[1:], sorted_slots[:-1], out=starts[1:])
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    top = int(rank.max())
    if top == 0:
        return [np.arange(n)]
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(top + 2))
    return [by_rank[bounds[r]:bounds[r + 1]] for r in range(top + 1)]


class KeyedDetector:
    """Per-series state in numpy columns; subclasses implement ``_score`` and ``_learn``.

    Subclasses declare their per-series columns in ``_columns`` (name -> (dtype, initial
    value)) and get them as attributes sized to the slot capacity.
    """

    name = "keyed"
    version = 1
    _columns: dict[str, tuple[str, float]] = {}
    #: per-series vectors: name -> (dtype, initial value, width)
    _vectors: dict[str, tuple[str, float, int]] = {}

    def __init__(self) -> None:
        self._index: dict[Hashable, int] = {}
        self._keys: list[Hashable | None] = []
        self._free: list[int] = []
        self._created: list[int] = []
        self._cache: Any = None
        self._capacity = 0
        self._alloc(16)

    # -- slots -------------------------------------------------------------------------
    def _all_columns(self) -> dict[str, tuple[str, float]]:
        cols = {"last_ts": ("f8", -np.inf)}
        cols.update(self._columns)
        return cols

    def _shapes(self) -> dict[str, tuple[str, float, int]]:
        shapes = {c: (d, i, 0) for c, (d, i) in self._all_columns().items()}
        shapes.update(self._vectors)
        return shapes

    def _alloc(self, capacity: int) -> None:
        for col, (dtype, init, width) in self._shapes().items():
            shape = (capacity, width) if width else (capacity,)
            new = np.full(shape, init, dtype=dtype)
            old = getattr(self, col, None)
            if old is not None:
                new[: old.shape[0]] = old
            setattr(self, col, new)
        self._capacity = capacity

    def _reset_slots(self, slots: IntArray) -> None:
        for col, (_dtype, init, _width) in self._shapes().items():
            getattr(self, col)[slots] = init

    def state_bytes_per_series(self) -> int:
        """Bytes of numpy state per series slot (excluding the key index)."""
        return sum(getattr(self, c).itemsize * max(1, w) for c, (_d, _i, w)
                   in self._shapes().items())

    def _slots(self, keys: Sequence[Hashable] | npt.NDArray[Any]) -> IntArray:
        index = self._index
        if isinstance(keys, np.ndarray):
            keys = keys.tolist()
        self._created = []
        try:  # the steady state: every series is known; map() keeps the loop in C
            return np.fromiter(map(index.__getitem__, keys), dtype=np.int64, count=len(keys))
        except KeyError:
            pass
        slots = np.fromiter(map(index.get, keys, repeat(-1)), dtype=np.int64,
                            count=len(keys))
        missing = np.flatnonzero(slots < 0)
        need = len(self._keys) + missing.shape[0] - len(self._free)
        if need > self._capacity:  # grow once for the whole batch, by at most a quarter
            self._alloc(max(need, self._capacity + self._capacity // 4))
        for pos in missing.tolist():
            key = keys[pos]
            slot = index.get(key)
            if slot is None:
                slot = self._new_slot(key)
                self._created.append(slot)
            slots[pos] = slot
        return slots

    def follow(self, leader: KeyedDetector) -> None:
        """Share ``leader``'s key index (a pipeline stage after the first interns nothing).

        The leader owns the index; :meth:`sync_slots` must be called with the slots the
        leader created before this detector sees them.
        """
        self._index = leader._index
        self._keys = leader._keys
        self._free = leader._free
        self._alloc(max(self._capacity, leader._capacity))

    def sync_slots(self, created: Sequence[int], capacity: int) -> None:
        """Grow to ``capacity`` and reset ``created`` slots (a follower's new series)."""
        if capacity > self._capacity:
            self._alloc(capacity)
        if created:
            self._reset_slots(np.asarray(created, dtype=np.int64))

    def _new_slot(self, key: Hashable) -> int:
        if self._free:
            slot = self._free.pop()
            self._keys[slot] = key
        else:
            slot = len(self._keys)
            if slot >= self._capacity:
                self._alloc(max(16, self._capacity + self._capacity // 4))
            self._keys.append(key)
        self._index[key] = slot
        self._reset_slots(np.array([slot]))
        return slot

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def forget(self, keys: Sequence[Hashable]) -> None:
        """Drop the state of series that vanished; their slots are reused."""
        for key in keys:
            slot = self._index.pop(key, None)
            if slot is not None:
                self._keys[slot] = None
                self._free.append(slot)

    def idle_keys(self, before_ts: float) -> list[Hashable]:
        """Series whose last learnt point is older than ``before_ts`` (they vanished)."""
        live = np.fromiter(self._index.values(), dtype=np.int64, count=len(self._index))
        if live.size == 0:
            return []
        last: FloatArray = self.last_ts  # type: ignore[attr-defined]
        return [self._keys[s] for s in live[last[live] < before_ts].tolist()]

    def evict_idle(self, before_ts: float) -> int:
        """Forget every series whose last learnt point is older than ``before_ts``."""
        stale = self.idle_keys(before_ts)
        self.forget(stale)
        return len(stale)

    # -- the contract --------------------------------------------------------------------
    def assess_many(
        self, keys: Sequence[Hashable] | npt.NDArray[Any], timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> Assessment:
        """Score every point against its series' state, then learn it (event order)."""
        ts = np.asarray(timestamps, dtype=np.float64)
        vals = np.asarray(values, dtype=np.float64)
        n = vals.shape[0]
        score = np.zeros(n)
        low = np.full(n, np.nan)
        high = np.full(n, np.nan)
        if n == 0:
            return Assessment(score, low, high)
        return self.assess_slots(self._slots(keys), ts, vals)

    def assess_slots(self, slots: IntArray, ts: FloatArray, vals: FloatArray,
                     rounds: list[IntArray] | None = None) -> Assessment:
        """:meth:`assess_many` on keys already interned into slots of this index
        (``rounds``, from :func:`rounds_of` on the same slots, may be passed in)."""
        n = vals.shape[0]
        score = np.zeros(n)
        low = np.full(n, np.nan)
        high = np.full(n, np.nan)
        finite = np.isfinite(vals) & np.isfinite(ts)
        last_ts: FloatArray = self.last_ts  # type: ignore[attr-defined]
        for pos in rounds if rounds is not None else rounds_of(slots):
            if not finite[pos].all():
                pos = pos[finite[pos]]
                if pos.size == 0:
                    continue
            if pos.shape[0] == n:
                sl, t, v = slots, ts, vals
            else:
                sl, t, v = slots[pos], ts[pos], vals[pos]
            s, lo, hi = self._score(sl, t, v)
            score[pos] = s
            low[pos] = lo
            high[pos] = hi
            fresh = t >= last_ts[sl]
            if not fresh.all():
                self._cache = None
                sl, t, v, s = sl[fresh], t[fresh], v[fresh], s[fresh]
            if sl.size:
                self._learn(sl, t, v, s)
                last_ts[sl] = t
        np.clip(score, 0.0, 1.0, out=score)
        return Assessment(score, low, high)

    def score_learn_many(
        self, keys: Sequence[Hashable] | npt.NDArray[Any], timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> FloatArray:
        return self.assess_many(keys, timestamps, values).score

    def score_one(self, key: Hashable, ts: float, value: float) -> float:
        """Score one point without learning it."""
        if not (np.isfinite(value) and np.isfinite(ts)):
            return 0.0
        slot = self._index.get(key)
        if slot is None:
            return 0.0
        s, _, _ = self._score(np.array([slot]), np.array([float(ts)]), np.array([float(value)]))
        return float(np.clip(s[0], 0.0, 1.0))

    def learn_one(self, key: Hashable, ts: float, value: float) -> None:
        """Learn one point (its score is computed first, so filters see it)."""
        self.assess_many([key], [ts], [value])

    # -- state ---------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        return {}

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain data (lists, numbers, numpy arrays); picklable."""
        live = sorted(self._index.items(), key=lambda kv: kv[1])
        slots = np.array([s for _, s in live], dtype=np.int64)
        return {
            "detector": self.name,
            "version": self.version,
            "params": self._params(),
            "keys": [k for k, _ in live],
            "columns": {c: getattr(self, c)[slots].copy() for c in self._shapes()},
            "extra": self._snapshot_extra(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Replace this detector's series state with ``state`` from :meth:`snapshot`."""
        if state.get("detector") != self.name or state.get("version") != self.version:
            raise SnapshotError(
                f"snapshot is {state.get('detector')!r} v{state.get('version')}",
                detector=f"{self.name} v{self.version}",
            )
        keys = list(state["keys"])
        self._index = {k: i for i, k in enumerate(keys)}
        self._keys = list(keys)
        self._free = []
        cap = max(16, 1 << max(0, len(keys) - 1).bit_length())
        for col, (dtype, init, width) in self._shapes().items():
            arr = np.full((cap, width) if width else (cap,), init, dtype=dtype)
            arr[: len(keys)] = np.asarray(state["columns"][col], dtype=dtype)
            setattr(self, col, arr)
        self._capacity = cap
        self._restore_extra(state.get("extra", {}))

    def _snapshot_extra(self) -> dict[str, Any]:
        return {}

    def _restore_extra(self, extra: dict[str, Any]) -> None:
        return None

    # -- what subclasses write -------------------------------------------------------------
    def _score(
        self, slots: IntArray, ts: FloatArray, values: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Scores and expected (low, high) of points of distinct series; no mutation."""
        raise NotImplementedError

    def _learn(self, slots: IntArray, ts: FloatArray, values: FloatArray,
               scores: FloatArray) -> None:
        """Fold points of distinct series into their state; ``scores`` lets it filter."""
        raise NotImplementedError
