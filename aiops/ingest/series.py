"""Series points as the ingest modules emit them, and quantiles of bucketed data.

A point carries an explicit ``type`` (``gauge`` or ``counter``), written on the metrics
topic next to the name, so the detect stage's metric semantics need not guess from the name.

>>> bucket_quantile(0.5, [1.0, 2.0, 4.0], [0.0, 10.0, 0.0, 0.0])
1.5
>>> weighted_quantile(0.95, [0.1, 0.2, 0.3, 5.0], [1.0, 1.0, 1.0, 1.0])
5.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

GAUGE = "gauge"
COUNTER = "counter"


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    labels: dict[str, str]
    ts: float
    value: float
    type: str = GAUGE


def bucket_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]
                    ) -> float | None:
    """The ``q`` quantile of a bucketed distribution, interpolated linearly within the
    bucket as Prometheus' ``histogram_quantile`` does; ``counts`` has one more entry than
    ``bounds`` (the ``+Inf`` bucket), which answers with the highest finite bound."""
    total = float(sum(counts))
    if total <= 0 or not math.isfinite(total):
        return None
    rank = q * total
    seen = 0.0
    for i, count in enumerate(counts):
        if count > 0 and seen + count >= rank:
            if i >= len(bounds):
                return bounds[-1] if bounds else None
            upper = bounds[i]
            lower = bounds[i - 1] if i > 0 else min(0.0, upper)
            return lower + (upper - lower) * max(0.0, rank - seen) / count
        seen += count
    return bounds[-1] if bounds else None


def weighted_quantile(q: float, values: Sequence[float], weights: Sequence[float]
                      ) -> float | None:
    """The smallest value whose cumulative weight reaches ``q`` of the total."""
    if not values:
        return None
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    rank = q * total
    seen = 0.0
    for value, weight in pairs:
        seen += weight
        if seen >= rank - 1e-12:
            return value
    return pairs[-1][0]


def group_by_service(points: Iterable[Point]) -> dict[str, list[Point]]:
    out: dict[str, list[Point]] = {}
    for p in points:
        out.setdefault(p.labels.get("service", "unknown"), []).append(p)
    return out
