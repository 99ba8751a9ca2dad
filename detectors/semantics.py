"""Metric semantics: know what a series is before scoring it.

A detector scores values; whether a value means anything depends on the kind of metric.
Prometheus' kinds, told by ``remote_write`` metadata or a ``type`` field when the sender
gives one, else by its naming conventions:

* **gauges** (declared, or named like one) are scored as they are;
* **counters** (``*_total``, a declared counter) are scored as per-second rates; a value
  lower than the one before is a counter reset (the target restarted), not a negative rate;
* **untyped** series (no declared type and a name that says nothing, as node-exporter's
  ``node_vmstat_*`` and ``node_netstat_*`` counters) are watched before they are scored:
  after ``infer_points`` points (more while the value has not moved), one that rose and
  never fell is a counter, any other a gauge; an inferred counter that falls, but not to
  near zero (a reset), was a gauge after all and is learnt afresh as one;
* **histograms and summaries** become one latency signal per family: the ``_bucket``
  counters of one label set fold into the family's p95 (``histogram_quantile`` over the
  bucket rates); quantile series (a ``quantile`` label, or names ending ``_p90``/``_p99``)
  fold into the family's highest quantile; a family with only ``_sum`` and ``_count``
  becomes the mean (``rate(_sum) / rate(_count)``); a family's ``_sum``/``_count`` are not
  scored on their own when it has buckets or quantiles;
* **bookkeeping** is not scored: ``up``, ``scrape_*`` and other series about the scrape
  itself (``promhttp_*``, ``node_scrape_collector_*``), ``*_info``, ``*_created`` and
  timestamps (:func:`detectors.kinds.bookkeeping` says why).

Each signal also carries its **resolution**, for the alert policy
(:mod:`detectors.policy`): the quantum its values move in, learnt as the largest step every
change the series made is a whole multiple of (:func:`common_step`; a rounding-sized change
is not one, and a series that moves continuously ends with a quantum of rounding size, which
says nothing). A gauge's quantum is that of its value
(1 for a count of processes, 0.01 for a load average); a counter's rate moves in the
counter's smallest increment per interval (``node_cpu_seconds_total`` counts 0.01 s ticks, so
at a 250 ms scrape its rate moves in steps of 0.04), and a rate is marked *counting*: it is
a count of events, with their shot noise. The quantum is learnt from the change it judges
too, so the first move of a series that never moved is, by definition, within resolution.

Scrape gaps, stale markers and restarts never alert by themselves: a point more than
``gap_factor`` times the series' usual interval after the one before, a non-finite value
(Prometheus' stale marker) or a counter reset restarts the series' rate computation, and the
next ``settle_points`` points are not scored (the first scrapes of a restarted target).
A counter reset names the series in :attr:`MetricSemantics.restarted`, so that the detect
stage has its detector learn it afresh: the target is another process now (its memory,
threads, connections), and what was normal before does not describe it. A series back
after an outage (a gap of more than ``relearn_factor`` intervals, not a scrape or two that
timed out) or a stale marker is named there only when a counter of its source reset in the
same scrape (:mod:`detectors.restarts`): the same source seen again keeps its history.

>>> from aiops.model import MetricSample
>>> sem = MetricSemantics()
>>> pts = [MetricSample("req_total", {"job": "a"}, float(t), 10.0 * t) for t in range(6)]
>>> out = sem.apply(MetricColumns.from_samples(pts))
>>> out.names, out.values.tolist()
(['req_total'], [10.0, 10.0, 10.0])
>>> reset = sem.apply(MetricColumns.from_samples([MetricSample("req_total", {"job": "a"},
...                                                            6.0, 3.0)]))
>>> len(reset)
0
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import numpy.typing as npt

from aiops.model import series_key
from aiops.model.columns import MetricColumns
from detectors.base import rounds_of
from detectors.families import (
    BUCKET,
    COUNT,
    COUNTER,
    GAUGE,
    QUANTILE,
    SKIP,
    SUM,
    UNTYPED,
    Family,
)
from detectors.kinds import SeriesKind, classify
from detectors.restarts import RestartJudge, source

FloatArray = npt.NDArray[np.float64]
_RATE_KINDS = frozenset((COUNTER, BUCKET, SUM, COUNT))
#: a change smaller than this share of the value is float rounding, not a quantum
_ROUNDING = 1e-12


class MetricSemantics:
    """Turns raw samples into the signals worth scoring; keeps per-series rate state.

    State is plain Python and numpy (picklable): the detect stage checkpoints it with the
    detectors, so a restarted worker resumes rates where it left them.
    """

    def __init__(self, *, gap_factor: float = 3.0, settle_points: int = 2,
                 infer_points: int = 12, relearn_factor: float = 10.0) -> None:
        self.gap_factor = gap_factor
        self.relearn_factor = relearn_factor
        self.settle_points = settle_points
        self.infer_points = infer_points
        #: output series keys whose input restarted (gap, stale marker, counter reset) in
        #: the last :meth:`apply`
        self.restarted: list[str] = []
        self._kinds: dict[str, SeriesKind] = {}
        self._families: dict[str, Family] = {}
        self._free: list[int] = []
        self._size = 0
        self._prev_ts = np.full(16, np.nan)
        self._prev_val = np.full(16, np.nan)
        self._interval = np.full(16, np.nan)
        self._hold = np.zeros(16, dtype=np.int64)
        self._rises = np.zeros(16, dtype=np.int64)
        self._falls = np.zeros(16, dtype=np.int64)
        self._seen = np.zeros(16, dtype=np.int64)
        self._quantum = np.full(16, np.inf)
        self._judge = RestartJudge()

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if "_judge" not in state:  # a checkpoint from before restarts were judged by source
            self._judge = RestartJudge()

    def __len__(self) -> int:
        return len(self._kinds)

    # ------------------------------------------------------------------ series

    def _kind(self, key: str, name: str, labels: Mapping[str, str], declared: str
              ) -> SeriesKind:
        kind = self._kinds.get(key)
        if kind is not None and (not declared or declared == kind.declared):
            return kind
        fresh = classify(name, labels, declared)
        fresh.declared = declared
        if kind is not None:  # a declared type arrived after the name decided: re-slot
            self._release(kind)
        if fresh.kind != SKIP:
            fresh.slot = self._new_slot()
        if fresh.group:
            fam = self._families.get(fresh.group)
            if fam is None:
                fam = self._families[fresh.group] = Family(fresh.family,
                                                           dict(fresh.group_labels))
            fam.add(fresh.kind, fresh.bound)
        self._kinds[key] = fresh
        return fresh

    def _new_slot(self) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            slot = self._size
            self._size += 1
            if slot >= self._prev_ts.shape[0]:
                grow = max(16, slot // 4)
                self._prev_ts = np.concatenate([self._prev_ts, np.full(grow, np.nan)])
                self._prev_val = np.concatenate([self._prev_val, np.full(grow, np.nan)])
                self._interval = np.concatenate([self._interval, np.full(grow, np.nan)])
                for name in ("_hold", "_rises", "_falls", "_seen"):
                    setattr(self, name, np.concatenate([getattr(self, name),
                                                        np.zeros(grow, dtype=np.int64)]))
                self._quantum = np.concatenate([self._quantum, np.full(grow, np.inf)])
        self._prev_ts[slot] = self._prev_val[slot] = self._interval[slot] = np.nan
        self._hold[slot] = self._rises[slot] = self._falls[slot] = self._seen[slot] = 0
        self._quantum[slot] = np.inf
        return slot

    def _release(self, kind: SeriesKind) -> None:
        if kind.slot >= 0:
            self._free.append(kind.slot)
            kind.slot = -1

    def forget_idle(self, before_ts: float) -> int:
        """Drop series (and families) last seen before ``before_ts``; returns how many."""
        stale = [k for k, kind in self._kinds.items()
                 if kind.slot < 0 or not self._prev_ts[kind.slot] >= before_ts]
        for key in stale:
            self._release(self._kinds.pop(key))
        live = {kind.group for kind in self._kinds.values() if kind.group}
        for group in [g for g in self._families if g not in live]:
            del self._families[group]
        self._judge.forget_before(before_ts)
        return len(stale)

    # ------------------------------------------------------------------ batches

    def apply(self, batch: MetricColumns) -> MetricColumns:
        """The signals to score for ``batch``: gauges as they are, rates, family latency."""
        n = len(batch)
        if n == 0:
            return batch
        nseries = len(batch.names)
        first = np.full(nseries, -1, dtype=np.int64)
        first[batch.series[::-1]] = np.arange(n - 1, -1, -1)
        kinds = [
            self._kind(batch.keys[int(first[s])], batch.names[s], batch.labels[s],
                       batch.types.get(batch.keys[int(first[s])], ""))
            if first[s] >= 0 else SeriesKind(SKIP)
            for s in range(nseries)
        ]
        series_slot = np.array([k.slot for k in kinds], dtype=np.int64)
        slots = series_slot[batch.series]
        keep = np.flatnonzero(slots >= 0)
        in_series = batch.series[keep]
        emit, out_vals, restart, res, counting = self._step(
            slots[keep], batch.ts[keep], batch.values[keep],
            np.array([k.kind in _RATE_KINDS for k in kinds])[in_series],
            np.array([k.kind == UNTYPED for k in kinds], dtype=bool)[in_series])
        self.restarted = self._restarted(batch, kinds, keep, restart)
        return self._assemble(batch, kinds, keep[emit], out_vals[emit], res[emit],
                              counting[emit])

    def _counterlike(self, slots: npt.NDArray[np.int64] | int) -> npt.NDArray[np.bool_]:
        """Untyped series that rose and never fell: counters."""
        return (self._falls[slots] == 0) & (self._rises[slots] >= 1)

    def _restarted(self, batch: MetricColumns, kinds: list[SeriesKind],
                   keep: npt.NDArray[np.int64], code: npt.NDArray[np.int8]) -> list[str]:
        """Output keys to learn afresh: series whose counter reset or whose kind flipped,
        and series back after a gap whose source was reset in the same scrape
        (:mod:`detectors.restarts`)."""
        found: dict[str, None] = {}
        marked = np.flatnonzero(code)
        if marked.size == 0:
            return []
        order = marked[np.argsort(-code[marked], kind="stable")]  # resets first
        for i in order.tolist():
            s = int(batch.series[keep[i]])
            kind = kinds[s]
            name, labels = batch.names[s], batch.labels[s]
            ts = float(batch.ts[keep[i]])
            own = ([series_key(name, labels)]
                   if kind.kind in (GAUGE, COUNTER, UNTYPED, SUM, COUNT) else [])
            if kind.group:
                own.append(kind.group)
            src = source(name, labels)
            if code[i] == _RETURNED:
                keys = [k for key in own for k in self._judge.returned(src, key, ts)]
            else:
                keys = own + (self._judge.reset(src, ts) if code[i] == _RESET else [])
            found.update(dict.fromkeys(keys))
        return list(found)

    def _step(self, slots: npt.NDArray[np.int64], ts: FloatArray, vals: FloatArray,
              rate: npt.NDArray[np.bool_], untyped: npt.NDArray[np.bool_]
              ) -> tuple[npt.NDArray[np.bool_], FloatArray, npt.NDArray[np.int8],
                         FloatArray, npt.NDArray[np.bool_]]:
        """Per point: whether it yields a signal, its value (rate or level), how the series
        restarted there (``_RETURNED`` after an outage or a stale marker, ``_FLIPPED`` an
        inferred counter that was a gauge, ``_RESET`` a counter reset; 0: it did not), its
        resolution and whether it is a rate (counting).
        An untyped series yields nothing until its kind is decided, then as that kind."""
        emit = np.zeros(slots.shape[0], dtype=bool)
        restart = np.zeros(slots.shape[0], dtype=np.int8)
        out = np.full(slots.shape[0], np.nan)
        res = np.full(slots.shape[0], np.nan)
        counting = np.zeros(slots.shape[0], dtype=bool)
        for pos in rounds_of(slots):
            sl, t, v, r, u = slots[pos], ts[pos], vals[pos], rate[pos], untyped[pos]
            flip = counted = np.zeros(sl.shape[0], dtype=bool)
            if u.any():
                seen0 = self._seen[sl]
                moved = self._rises[sl] + self._falls[sl] > 0
                decided = u & (seen0 >= self.infer_points) & (
                    moved | (seen0 >= self.infer_points * 10))
                counted = u & self._counterlike(sl)
                r = r | (decided & counted)
            prev_t, prev_v = self._prev_ts[sl], self._prev_val[sl]
            interval, hold = self._interval[sl], self._hold[sl]
            dt = t - prev_t
            known = np.isfinite(prev_t)
            older = known & ~(dt > 0)  # duplicate or out of order: ignored entirely
            finite = np.isfinite(v)
            gap = known & np.isfinite(interval) & (dt > self.gap_factor * interval)
            fell = known & ~gap & (v < prev_v)
            reset = r & known & (v < prev_v)
            if u.any():
                # an inferred counter falling far less than to zero was a gauge after all
                flip = counted & fell & (v > 0.1 * prev_v)
                # a series scored as a flat gauge that rises for the first time is taken
                # for a counter from now on: its signal changes from a level to a rate
                flip |= decided & ~counted & (self._falls[sl] == 0) & known & (v > prev_v)
                reset &= ~flip
            event = ~known | gap | reset | ~finite | flip
            ok = ~older & ~event & (hold == 0)
            if u.any():
                ok &= ~u | decided
            value = np.where(r, (v - prev_v) / np.where(dt > 0, dt, 1.0), v)
            emit[pos] = ok
            out[pos] = value
            live = ~older
            seen = self._seen[sl]
            outage = gap & (dt > self.relearn_factor * interval)
            ok_now = live & finite
            restart[pos] = np.select(
                [ok_now & reset, ok_now & flip, ok_now & (outage | (~known & (seen > 0)))],
                [_RESET, _FLIPPED, _RETURNED], 0)
            step_ok = live & known & finite & (dt > 0)
            self._seen[sl] = seen + (live & finite)
            self._rises[sl] += step_ok & (v > prev_v)
            self._falls[sl] += step_ok & (v < prev_v) & ~(counted & ~flip)
            new_hold = np.where(event, self.settle_points, np.maximum(hold - 1, 0))
            steady = live & known & ~gap & finite & (dt > 0)
            new_interval = np.where(np.isfinite(interval), 0.8 * interval + 0.2 * dt, dt)
            self._interval[sl] = np.where(steady, new_interval, interval)
            self._hold[sl] = np.where(live, new_hold, hold)
            self._prev_ts[sl] = np.where(live, np.where(finite, t, np.nan), prev_t)
            self._prev_val[sl] = np.where(live, v, prev_v)
            # the quantum: the step every change made is a multiple of (a counter's by
            # its increments)
            step = np.abs(v - prev_v)
            tol = _ROUNDING * np.maximum(np.abs(v), np.abs(prev_v))
            moved = step_ok & ~reset & ~flip & (step > tol)
            quantum = common_step(self._quantum[sl], np.where(moved, step, np.inf), tol)
            self._quantum[sl] = quantum
            quantum = np.where(np.isfinite(quantum), quantum, np.nan)
            res[pos] = np.where(r, quantum / self._interval[sl], quantum)
            counting[pos] = r
        return emit, out, restart, res, counting

    def _assemble(self, batch: MetricColumns, kinds: list[SeriesKind],
                  pos: npt.NDArray[np.int64], vals: FloatArray, res: FloatArray,
                  counting: npt.NDArray[np.bool_]) -> MetricColumns:
        names: list[str] = []
        labels: list[Mapping[str, str]] = []
        keys: list[str] = []
        index: dict[Hashable, int] = {}
        out_series: list[int] = []
        out_ts: list[float] = []
        out_vals: list[float] = []

        def ident(ref: Hashable, name: str, lab: Mapping[str, str], key: str) -> int:
            found = index.get(ref)
            if found is None:
                found = index[ref] = len(names)
                names.append(name)
                labels.append(lab)
                keys.append(key)
            return found

        routes: dict[int, int] = {}  # input series -> output series, _DROP or _FOLD
        quantum: dict[int, tuple[float, bool]] = {}  # output series -> its resolution
        for s, t, v, q, c in zip(batch.series[pos].tolist(), batch.ts[pos].tolist(),
                                 vals.tolist(), res.tolist(), counting.tolist(), strict=True):
            target = routes.get(s)
            if target is None:
                route = self._route(kinds[s])
                if route == _DIRECT:
                    target = ident(("s", s), batch.names[s], batch.labels[s],
                                   series_key(batch.names[s], batch.labels[s]))
                elif route == _FAMILY:
                    fam = self._families[kinds[s].group]
                    target = ident(kinds[s].group, fam.name, fam.labels, kinds[s].group)
                else:
                    target = route
                routes[s] = target
            if target >= 0:
                out_series.append(target)
                out_ts.append(t)
                out_vals.append(v)
                quantum[target] = (q, c)
            elif target == _FOLD:
                kind = kinds[s]
                fam = self._families[kind.group]
                for ft, fv in fam.offer(kind.kind, kind.bound, t, v):
                    out_series.append(ident(kind.group, fam.name, fam.labels, kind.group))
                    out_ts.append(ft)
                    out_vals.append(fv)
        known = [quantum.get(i, (np.nan, False)) for i in range(len(names))]
        return MetricColumns(names, labels, [keys[i] for i in out_series],
                             np.array(out_series, dtype=np.int64),
                             np.array(out_ts, dtype=np.float64),
                             np.array(out_vals, dtype=np.float64),
                             resolution=np.array([q for q, _ in known], dtype=np.float64),
                             counting=np.array([c for _, c in known], dtype=bool))

    def _route(self, kind: SeriesKind) -> int:
        """Where a series' signals go: scored as itself, as its family, folded or dropped."""
        if kind.kind in (GAUGE, COUNTER, UNTYPED):
            return _DIRECT
        fam = self._families[kind.group]
        if kind.kind == QUANTILE:
            return _FAMILY if kind.bound == fam.top_quantile else _DROP
        if kind.kind == BUCKET:
            return _FOLD
        if fam.buckets or fam.quantiles:
            return _DROP  # the family's latency comes from its buckets or quantiles
        return _FOLD if fam.sums and fam.counts else _DIRECT


_DIRECT, _FAMILY, _DROP, _FOLD = -10, -11, -1, -2
_RETURNED, _FLIPPED, _RESET = 1, 2, 3


def common_step(a: FloatArray, b: FloatArray, tol: FloatArray) -> FloatArray:
    """The largest step both ``a`` and ``b`` are whole multiples of, to within ``tol``
    (Euclid's algorithm on floats, nearest remainders); ``inf`` stands for "no step yet".

    >>> common_step(np.array([0.03, np.inf, 4096.0, 188.2, 200.0]),
    ...             np.array([0.02, 0.01, np.inf, 203.7, 100 * 2 ** 0.5]),
    ...             np.full(5, 1e-9)).round(6).tolist()
    [0.01, 0.01, 4096.0, 0.1, 0.0]
    """
    a = np.where(np.isfinite(a), a, b)
    b = np.where(np.isfinite(b), b, a)
    a, b = np.maximum(a, b), np.minimum(a, b)
    for _ in range(64):
        live = np.isfinite(b) & (b > tol)
        if not live.any():
            break
        div = np.where(live, b, 1.0)
        rem = np.fmod(np.where(live, a, 0.0), div)
        rem = np.minimum(rem, div - rem)
        a = np.where(live, b, a)
        b = np.where(live, rem, b)
    return a
