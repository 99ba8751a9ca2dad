"""Histogram and summary families folded into one latency signal each.

The series of one family and label set (``x_bucket{le=...}``, ``x_sum``, ``x_count``,
``x{quantile=...}``) describe one distribution; scored one by one, a single slowdown fires
once per bucket or quantile and counts several times in an incident. A :class:`Family`
collects the per-second rates of its series at one scrape timestamp and, once the next
scrape's timestamp shows up, turns them into one value:

* buckets: the 0.95 quantile of the bucket rates, interpolated as Prometheus'
  ``histogram_quantile`` does (linear within a bucket; the highest finite bound when it
  falls in ``+Inf``); nothing when no request was observed in the interval;
* only ``_sum`` and ``_count``: the mean, ``rate(_sum) / rate(_count)``.

Quantile series need no folding (the family's highest quantile is scored and the others
dropped), so they never reach this class.

>>> fam = Family("http_seconds", {"job": "a"})
>>> for le in (0.1, 0.5, math.inf):
...     fam.add(BUCKET, le)
>>> [fam.offer(BUCKET, le, 1.0, r) for le, r in [(0.1, 50.0), (0.5, 100.0), (math.inf, 100.0)]]
[[], [], []]
>>> [(t, round(v, 4)) for t, v in fam.offer(BUCKET, 0.1, 2.0, 0.0)]
[(1.0, 0.46)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

GAUGE, COUNTER, BUCKET, QUANTILE, SUM, COUNT, SKIP, UNTYPED = range(8)

#: the quantile a histogram family is scored by
HISTOGRAM_QUANTILE = 0.95


class Family:
    """One histogram or summary family of one label set (plain data, picklable)."""

    __slots__ = (
        "buckets",
        "counts",
        "labels",
        "name",
        "pending",
        "pending_ts",
        "quantiles",
        "sums",
        "top_quantile",
    )

    def __init__(self, name: str, labels: Mapping[str, str]) -> None:
        self.name = name
        self.labels = dict(labels)
        self.buckets: set[float] = set()
        self.quantiles: set[float] = set()
        self.sums = 0
        self.counts = 0
        self.top_quantile = -math.inf
        self.pending_ts = -math.inf
        self.pending: dict[object, float] = {}

    def add(self, kind: int, bound: float) -> None:
        """A new member series of this family."""
        if kind == BUCKET:
            self.buckets.add(bound)
        elif kind == QUANTILE:
            self.quantiles.add(bound)
            if bound > self.top_quantile:
                self.top_quantile = bound
        elif kind == SUM:
            self.sums += 1
        elif kind == COUNT:
            self.counts += 1

    def offer(self, kind: int, bound: float, ts: float, rate: float
              ) -> list[tuple[float, float]]:
        """Add one member's rate at ``ts``; returns the finished signal of an earlier scrape.

        A point older than the scrape being collected arrived late and is dropped.
        """
        out: list[tuple[float, float]] = []
        if ts > self.pending_ts:
            if self.pending:
                value = self._value()
                if value is not None:
                    out.append((self.pending_ts, value))
            self.pending_ts = ts
            self.pending = {}
        elif ts < self.pending_ts:
            return out
        self.pending[bound if kind == BUCKET else kind] = rate
        return out

    def _value(self) -> float | None:
        if self.buckets:
            rates = [(b, r) for b, r in self.pending.items() if isinstance(b, float)]
            if len(rates) < len(self.buckets):
                return None  # part of the scrape is missing: no guess
            return bucket_quantile(HISTOGRAM_QUANTILE, sorted(rates))
        total = self.pending.get(COUNT)
        spent = self.pending.get(SUM)
        if total is None or spent is None or not total > 0:
            return None
        return spent / total


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile`` over cumulative ``(upper bound, rate)`` pairs, sorted by bound.

    >>> bucket_quantile(0.5, [(1.0, 10.0), (2.0, 30.0), (math.inf, 30.0)])
    1.25
    >>> bucket_quantile(0.99, [(1.0, 10.0), (math.inf, 20.0)])
    1.0
    >>> bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None
    True
    """
    if not buckets:
        return None
    total = buckets[-1][1]
    if not total > 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound
