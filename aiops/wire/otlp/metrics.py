"""OTLP metrics as data points with Prometheus-style names, ready for the engine's semantics.

Names follow OpenTelemetry's Prometheus compatibility rules, so an OTLP metric and the same
metric scraped by Prometheus are one series to the engine: characters other than letters,
digits and ``_`` become ``_``, the unit is appended as a word (``s`` -> ``_seconds``,
``By`` -> ``_bytes``, ``1`` -> ``_ratio`` on gauges) unless the name already ends with it,
and a monotonic sum gets ``_total`` (added by the mapping, :mod:`aiops.ingest.metrics`).

Exponential histograms become explicit bucket lists (upper bound ``base ** (index + 1)``,
``base = 2 ** 2 ** -scale``; the zero bucket and any negative buckets below the first
bound), so one quantile estimator serves both histogram kinds.

Points flagged ``NO_RECORDED_VALUE`` (the Prometheus staleness marker in OTLP), and values
that are not finite numbers, are skipped and counted, as the remote_write receiver does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops.wire.otlp.attributes import UNKNOWN_SERVICE, attributes, resource_labels

NO_RECORDED_VALUE = 1
DELTA = 1
CUMULATIVE = 2

_UNITS = {
    "s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds",
    "min": "minutes", "h": "hours", "d": "days",
    "By": "bytes", "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes",
    "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes",
    "bit": "bits", "%": "percent", "Hz": "hertz", "V": "volts", "A": "amperes",
    "J": "joules", "W": "watts", "Cel": "celsius", "m": "meters",
}
_PER = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_INVALID = re.compile(r"[^a-zA-Z0-9_:]+")


def prometheus_name(name: str, unit: str, *, gauge: bool = False) -> str:
    """The Prometheus-style base name of an OTLP metric (without ``_total``).

    >>> prometheus_name("http.server.request.duration", "s")
    'http_server_request_duration_seconds'
    >>> prometheus_name("system.cpu.utilization", "1", gauge=True)
    'system_cpu_utilization_ratio'
    >>> prometheus_name("queue.size", "{items}"), prometheus_name("net.io", "By/s")
    ('queue_size', 'net_io_bytes_per_second')
    """
    base = _INVALID.sub("_", name).strip("_") or "unnamed"
    if base[0].isdigit():
        base = f"_{base}"
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    words = ""
    if unit == "1":
        words = "ratio" if gauge else ""
    elif unit:
        top, _, per = unit.partition("/")
        words = _UNITS.get(top, _INVALID.sub("_", top).strip("_"))
        if per:
            words += f"_per_{_PER.get(per, _INVALID.sub('_', per).strip('_'))}"
        words = words.strip("_")
    if words and not base.endswith(f"_{words}") and base != words:
        base = f"{base}_{words}"
    return base


@dataclass(slots=True)
class NumberPoint:
    """A gauge or sum data point."""

    name: str
    labels: dict[str, str]
    start: float
    ts: float
    value: float
    kind: str  # "gauge" or "sum"
    monotonic: bool = False
    delta: bool = False


@dataclass(slots=True)
class DistributionPoint:
    """A histogram, exponential histogram or summary data point.

    ``counts[i]`` observations fell at or below ``bounds[i]`` and above the bound before;
    ``counts[-1]`` is the ``+Inf`` bucket. Summaries carry ``quantiles`` instead.
    """

    name: str
    labels: dict[str, str]
    start: float
    ts: float
    count: float
    total: float
    delta: bool
    bounds: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    quantiles: list[tuple[float, float]] = field(default_factory=list)
    low: float = -math.inf
    high: float = math.inf
    """The smallest and largest observation, when the sender recorded them: an estimate
    from coarse buckets is clamped into them (lifetime bounds for cumulative points, which
    still bound every interval)."""


@dataclass(slots=True)
class DecodedMetrics:
    numbers: list[NumberPoint] = field(default_factory=list)
    distributions: list[DistributionPoint] = field(default_factory=list)
    skipped: int = 0
    """Points with no recorded value or a value that is not a finite number."""


def _exponential(point: Any) -> tuple[list[float], list[float]]:
    scale = point.scale
    factor = 2.0 ** -scale
    zero = float(point.zero_count) + float(sum(point.negative.bucket_counts))
    bounds = [float(point.zero_threshold)]
    counts = [zero]
    offset = point.positive.offset
    for k, n in enumerate(point.positive.bucket_counts):
        try:
            upper = 2.0 ** ((offset + k + 1) * factor)
        except OverflowError:
            upper = math.inf
        if upper <= bounds[-1] or math.isinf(upper):
            counts[-1] += n
            continue
        bounds.append(upper)
        counts.append(float(n))
    counts.append(0.0)
    return bounds, counts


def decode_metrics(request: Any, resource_map: Mapping[str, str]) -> DecodedMetrics:
    """Every data point of an ``ExportMetricsServiceRequest``, labelled with its resource's
    labels and its own attributes (a data-point attribute never replaces a resource label).
    """
    out = DecodedMetrics()
    for rm in request.resource_metrics:
        resource = resource_labels(rm.resource.attributes, resource_map)
        resource.setdefault("service", UNKNOWN_SERVICE)
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                _metric(metric, resource, out)
    return out


def _labels(point: Any, resource: dict[str, str]) -> dict[str, str]:
    labels = attributes(point.attributes)
    labels.update(resource)
    return labels


def _metric(metric: Any, resource: dict[str, str], out: DecodedMetrics) -> None:
    which = metric.WhichOneof("data")
    if which == "gauge" or which == "sum":
        data = getattr(metric, which)
        gauge = which == "gauge"
        monotonic = not gauge and data.is_monotonic
        delta = not gauge and data.aggregation_temporality == DELTA
        name = prometheus_name(metric.name, metric.unit, gauge=gauge or not monotonic)
        for p in data.data_points:
            value = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
            if p.flags & NO_RECORDED_VALUE or not math.isfinite(value):
                out.skipped += 1
                continue
            out.numbers.append(NumberPoint(
                name, _labels(p, resource), p.start_time_unix_nano / 1e9,
                p.time_unix_nano / 1e9, value, "gauge" if gauge else "sum", monotonic, delta))
    elif which in ("histogram", "exponential_histogram", "summary"):
        data = getattr(metric, which)
        delta = which != "summary" and data.aggregation_temporality == DELTA
        name = prometheus_name(metric.name, metric.unit)
        for p in data.data_points:
            if p.flags & NO_RECORDED_VALUE or not math.isfinite(p.sum):
                out.skipped += 1
                continue
            dist = DistributionPoint(name, _labels(p, resource), p.start_time_unix_nano / 1e9,
                                     p.time_unix_nano / 1e9, float(p.count), float(p.sum),
                                     delta)
            if which != "summary":
                if p.HasField("min"):
                    dist.low = p.min
                if p.HasField("max"):
                    dist.high = p.max
            if which == "histogram":
                dist.bounds = list(p.explicit_bounds)
                dist.counts = [float(c) for c in p.bucket_counts]
                if (dist.counts or dist.bounds) and len(dist.counts) != len(dist.bounds) + 1:
                    out.skipped += 1  # the specification makes such a point invalid
                    continue
            elif which == "exponential_histogram":
                dist.bounds, dist.counts = _exponential(p)
            else:
                dist.quantiles = [(q.quantile, q.value) for q in p.quantile_values]
            out.distributions.append(dist)
