"""Per-series robust deviation from recent history: the evidence behind a diagnosis.

Alert detectors decide whether a person should hear about a series; this module answers a
different question for *every* series, alerting or not: how far is it from its own recent
normal right now, which way, and since when? The detect stage publishes the answer as compact
:class:`aiops.model.deviation.Deviation` records (at most ``top_n`` families per node per
batch), and the correlator keeps them in a bounded window to rank the nodes around an
incident (see ``docs/design.md``, "Diagnosis over all telemetry").

The statistic is deliberately plain: the median and MAD of the last ``history`` points
(robust to the fault itself contaminating up to half the window), a floor on the scale
relative to the median so a flat series does not turn a rounding step into z = 1e9, and the
sign read against the kind of signal (latency, errors and saturation are bad going up,
availability going down, traffic either way). Each deviation also carries the series' usual
excursion, a high quantile (``usual_q``) of its recent distances from the median: the MAD
describes the bulk of a series, not how far its routine spikes go, and on real telemetry
(a p99 latency of a service with little traffic) a z of 20 can be an ordinary afternoon.

>>> from aiops.model import MetricSample
>>> from aiops.model.columns import MetricColumns
>>> t = DeviationTracker(min_history=5)
>>> rows = [MetricSample("latency", {"service": "db", "statistic": "p99"}, float(i), 0.03)
...         for i in range(10)]
>>> rows.append(MetricSample("latency", {"service": "db", "statistic": "p99"}, 10.0, 0.41))
>>> [(d.node, d.series, d.expected, d.since) for d in t.process_columns(
...     MetricColumns.from_samples(rows))]
[('db', 'latency p99', 0.03, 10.0)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from aiops.model import service_of
from aiops.model.columns import MetricColumns
from aiops.model.deviation import (
    Deviation,
    bad_direction,
    family_of,
    series_text,
    signal_kind,
)

#: The strongest robust z a deviation is given: beyond it a move says nothing more, and a
#: series that never moved before (zero spread) gets exactly this for any move.
Z_CAP = 1000.0


@dataclass(slots=True)
class _Series:
    node: str
    family: str
    text: str
    kind: str
    direction: int
    values: deque[float]
    last_ts: float = -math.inf
    since: float | None = None  # start of the current deviating run
    extra: dict[str, float] = field(default_factory=dict)


class DeviationTracker:
    """Robust z-scores of every series against its own last ``history`` points.

    ``threshold``: |z| from which a point counts as deviating (and starts a run whose first
    time is reported as ``since``); ``min_history``: points a series needs before it is
    judged; ``rel_floor``: the scale is at least this fraction of |median| (a series that was
    perfectly flat still needs a real move to deviate); ``top_n``: families reported per node
    per batch, strongest first.
    """

    def __init__(self, *, history: int = 240, min_history: int = 24, threshold: float = 4.0,
                 rel_floor: float = 1e-3, top_n: int = 5, usual_q: float = 0.95) -> None:
        self.history = history
        self.min_history = min_history
        self.threshold = threshold
        self.rel_floor = rel_floor
        self.top_n = top_n
        self.usual_q = usual_q
        self._series: dict[Hashable, _Series] = {}

    def __len__(self) -> int:
        return len(self._series)

    def _state(self, key: Hashable, name: str, labels: Mapping[str, str]) -> _Series:
        st = self._series.get(key)
        if st is None:
            kind = signal_kind(name)
            st = self._series[key] = _Series(
                node=service_of(labels), family=family_of(name, labels),
                text=series_text(name, labels), kind=kind, direction=bad_direction(name),
                values=deque(maxlen=self.history))
        return st

    def score(self, st: _Series, value: float) -> tuple[float, float, float]:
        """(robust z, median, usual excursion) of ``value`` against the series' history."""
        hist = np.fromiter(st.values, dtype=np.float64, count=len(st.values))
        med = float(np.median(hist))
        spread = np.abs(hist - med)
        usual = float(np.quantile(spread, self.usual_q))
        mad = 1.4826 * float(np.median(spread))
        if mad == 0.0:
            # Mostly one value (a rate or an error ratio that is usually 0): the MAD says
            # nothing, so the rare moves it had set the scale; if it never moved at all, any
            # move is as strong as a deviation can be, not 1e12 times stronger.
            mad = float(spread.mean())
        scale = max(mad, self.rel_floor * abs(med))
        if scale == 0.0:
            return (math.copysign(Z_CAP, value - med) if value != med else 0.0), med, usual
        z = (value - med) / scale
        return max(-Z_CAP, min(Z_CAP, z)), med, usual

    def process_columns(self, batch: MetricColumns) -> list[Deviation]:
        """Judge, then learn, every point (event time); return the deviating families."""
        found: dict[tuple[str, str], Deviation] = {}
        rises: dict[tuple[str, str], float] = {}  # largest move of any statistic per family
        order = np.argsort(batch.ts, kind="stable")
        for i in order.tolist():
            s = int(batch.series[i])
            st = self._state(batch.keys[i], batch.names[s], batch.labels[s])
            ts, value = float(batch.ts[i]), float(batch.values[i])
            if ts <= st.last_ts or math.isnan(value):
                continue
            st.last_ts = ts
            if len(st.values) >= self.min_history:
                z, med, usual = self.score(st, value)
                signed = z * st.direction if st.direction else abs(z)
                if signed >= self.threshold:
                    if st.since is None:
                        st.since = ts
                    dev = Deviation(st.node, st.family, st.text, st.kind, value, med, z,
                                    st.since, ts, bad=st.direction != 0, usual=usual)
                    key = (st.node, st.family)
                    if abs(value - med) > usual:  # a routine move of a statistic is no rise
                        rises[key] = max(rises.get(key, 0.0), abs(value - med))
                    old = found.get(key)
                    if old is None or dev.strength >= old.strength:
                        found[key] = dev
                else:
                    st.since = None
            st.values.append(value)
        return self._top(replace(d, rise=rises.get(k, 0.0)) for k, d in found.items())

    def _top(self, devs: object) -> list[Deviation]:
        per_node: dict[str, list[Deviation]] = {}
        for d in devs:  # type: ignore[attr-defined]
            per_node.setdefault(d.node, []).append(d)
        out: list[Deviation] = []
        for node in sorted(per_node):
            ranked = sorted(per_node[node], key=lambda d: (-d.strength, d.family))
            out.extend(ranked[: self.top_n])
        return out

    def forget_idle(self, before: float) -> int:
        """Drop series whose last point is older than ``before``; how many were dropped."""
        stale = [k for k, st in self._series.items() if st.last_ts < before]
        for k in stale:
            del self._series[k]
        return len(stale)
