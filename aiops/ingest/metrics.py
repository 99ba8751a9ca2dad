"""OTLP data points into the engine's metric signals.

The rules (the same semantics the detect stage gives Prometheus series):

* a gauge, and a cumulative sum that is not monotonic (an up-down counter: a level), is a
  ``gauge`` series under its Prometheus-style name;
* a cumulative monotonic sum is a ``counter`` series named ``<name>_total``: the detect
  stage turns counters into reset-aware per-second rates;
* a delta sum is already a per-interval increment: it becomes the gauge
  ``<name>_per_second`` = value / (time - start time) directly;
* a histogram or exponential histogram family becomes *one* latency signal,
  ``<name>_p95`` (the 95th percentile of the interval's observations, estimated from the
  buckets), plus ``<name>_count_per_second`` (observations per second). Delta points are
  intervals already; cumulative points are differenced against the previous point of the
  same series (a lower count or a new start time is a restart: the point is then the
  interval since its start). The first cumulative point of a series only sets the
  baseline, as a Prometheus ``rate`` needs two scrapes;
* a summary gives the quantile nearest 0.95 that the sender computed as ``<name>_p95`` and
  the observation rate, as for histograms.

>>> from aiops.wire.otlp.metrics import DistributionPoint
>>> m = MetricMapper()
>>> first = DistributionPoint("rpc_seconds", {"service": "cart"}, 0.0, 10.0, 10, 1.0, False,
...                           [0.1, 0.5], [10, 0, 0])
>>> m.map_distributions([first])
[]
>>> later = DistributionPoint("rpc_seconds", {"service": "cart"}, 0.0, 20.0, 30, 9.0, False,
...                           [0.1, 0.5], [10, 10, 10])
>>> [(p.name, round(p.value, 3)) for p in m.map_distributions([later])]
[('rpc_seconds_p95', 0.5), ('rpc_seconds_count_per_second', 2.0)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiops.ingest.series import COUNTER, GAUGE, Point, bucket_quantile
from aiops.wire.otlp.metrics import DistributionPoint, NumberPoint

QUANTILE = 0.95
_CACHE_LIMIT = 200_000


@dataclass(slots=True)
class _Previous:
    start: float
    ts: float
    count: float
    counts: list[float]
    bounds: list[float]


def rebase(counts: list[float], bounds: list[float], onto: list[float]) -> list[float]:
    """``counts`` over ``bounds`` re-bucketed onto the bounds ``onto`` (one more count than
    bounds each): exact when every bound of ``onto`` is one of ``bounds``, as when an
    exponential histogram lowers its scale between two points.

    >>> rebase([1, 2, 3, 4, 0], [1.0, 2.0, 4.0, 8.0], [2.0, 8.0])
    [3.0, 7.0, 0.0]
    """
    out: list[float] = []
    i, below = 0, 0.0
    for bound in onto:
        while i < len(bounds) and bounds[i] <= bound:
            below += counts[i]
            i += 1
        out.append(below - sum(out))
    out.append(float(sum(counts)) - sum(out))
    return out


class MetricMapper:
    """Maps data points; remembers the last cumulative distribution point per series."""

    def __init__(self, quantile: float = QUANTILE, cache_limit: int = _CACHE_LIMIT) -> None:
        self.quantile = quantile
        self._suffix = f"_p{round(quantile * 100):d}"
        self._previous: dict[tuple[str, tuple[tuple[str, str], ...]], _Previous] = {}
        self._cache_limit = cache_limit

    def map_numbers(self, points: Iterable[NumberPoint]) -> list[Point]:
        out: list[Point] = []
        for p in points:
            if p.kind == "gauge" or (not p.delta and not p.monotonic):
                out.append(Point(p.name, p.labels, p.ts, p.value, GAUGE))
            elif not p.delta:
                name = p.name if p.name.endswith("_total") else f"{p.name}_total"
                out.append(Point(name, p.labels, p.ts, p.value, COUNTER))
            elif p.ts > p.start > 0:
                out.append(Point(f"{p.name}_per_second", p.labels, p.ts,
                                 p.value / (p.ts - p.start), GAUGE))
        return out

    def map_distributions(self, points: Iterable[DistributionPoint]) -> list[Point]:
        out: list[Point] = []
        for p in points:
            interval = self._interval(p)
            if interval is None:
                continue
            seconds, count, counts = interval
            if p.quantiles:
                nearest = min(p.quantiles, key=lambda qv: abs(qv[0] - self.quantile))
                out.append(Point(p.name + self._suffix, p.labels, p.ts, nearest[1], GAUGE))
            elif count > 0:
                value = bucket_quantile(self.quantile, p.bounds, counts)
                if value is not None:
                    value = min(max(value, p.low), p.high)
                    out.append(Point(p.name + self._suffix, p.labels, p.ts, value, GAUGE))
            if seconds > 0:
                out.append(Point(f"{p.name}_count_per_second", p.labels, p.ts,
                                 count / seconds, GAUGE))
        return out

    def _interval(self, p: DistributionPoint) -> tuple[float, float, list[float]] | None:
        """(seconds, observations, bucket counts) of the interval this point ends."""
        if p.delta:
            return p.ts - p.start if p.start > 0 else 0.0, p.count, p.counts
        key = (p.name, tuple(sorted(p.labels.items())))
        before = self._previous.get(key)
        if len(self._previous) >= self._cache_limit and before is None:
            self._previous.clear()  # series churn: start over rather than grow without end
        self._previous[key] = _Previous(p.start, p.ts, p.count, p.counts, p.bounds)
        if before is None:
            return None
        if p.ts <= before.ts:
            return None  # a repeat or an older point: no new interval
        if p.start != before.start or p.count < before.count:  # the sender restarted
            return (p.ts - p.start if p.start > 0 else 0.0), p.count, p.counts
        previous = before.counts
        if p.bounds != before.bounds:
            previous = rebase(before.counts, before.bounds, p.bounds)
        return (p.ts - before.ts, p.count - before.count,
                [max(0.0, a - b) for a, b in zip(p.counts, previous, strict=True)])
