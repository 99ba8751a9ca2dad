"""Metric samples on the metrics topic: the native, batch, columnar series and
prometheus-kafka-adapter shapes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from aiops.model import (
    DecodeError,
    MetricSample,
    series_key,
)
from aiops.model.columns import MetricColumns
from aiops.wire.shapes.base import (
    _labels,
    _obj,
    dumps,
    loads,
)
from aiops.wire.timefmt import MAX_TIME, parse_time


def metric_from_dict(raw: object) -> MetricSample:
    # Fast path for the native shape, which is nearly all traffic on the hot topic.
    if type(raw) is dict:
        name = raw.get("name")
        labels = raw.get("labels")
        ts = raw.get("ts")
        value = raw.get("value")
        if (
            type(name) is str
            and name
            and type(labels) is dict
            and type(ts) in (float, int)
            and type(value) in (float, int)
            and ts < 1e11  # type: ignore[operator]
            and "__name__" not in labels
            and all(type(v) is str for v in labels.values())
        ):
            return MetricSample(name, labels, float(ts), float(value))  # type: ignore[arg-type]
    return _metric_from_dict_checked(raw)


def _name_and_labels(obj: Mapping[str, Any], kind: str) -> tuple[str, dict[str, str]]:
    """The series' name (``name``, else the ``__name__`` label, as Prometheus tooling sends
    it) and its other labels."""
    labels = _labels(obj.get("labels"))
    name = obj.get("name") or labels.pop("__name__", None)
    labels.pop("__name__", None)
    if not name or not isinstance(name, str):
        raise DecodeError(f"{kind} needs a string 'name'")
    return name, labels


def _metric_from_dict_checked(raw: object) -> MetricSample:
    obj = _obj(raw, "metric sample")
    name, labels = _name_and_labels(obj, "metric sample")
    ts = parse_time(obj.get("ts", obj.get("timestamp")), field="ts")
    if ts is None:
        raise DecodeError("metric sample needs 'ts' (or 'timestamp')")
    raw_value = obj.get("value")
    try:
        value = float(raw_value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"metric value {raw_value!r} is not a number") from exc
    return MetricSample(name=name, labels=labels, ts=ts, value=value)


def decode_metrics(data: bytes | str) -> list[MetricSample]:
    """One sample or a ``{"samples": [...]}`` batch per message."""
    obj = loads(data)
    if isinstance(obj, Mapping) and "samples" in obj:
        samples = obj["samples"]
        if not isinstance(samples, list):
            raise DecodeError("'samples' must be a list")
        return [metric_from_dict(s) for s in samples]
    if isinstance(obj, list):
        return [metric_from_dict(s) for s in obj]
    return [metric_from_dict(obj)]


def _series_entry(
    raw: object,
) -> tuple[str, dict[str, str], list[float], list[float]]:
    obj = _obj(raw, "series")
    name, labels = _name_and_labels(obj, "series")
    ts, values = obj.get("ts"), obj.get("values")
    if not isinstance(ts, list) or not isinstance(values, list) or len(ts) != len(values):
        raise DecodeError(f"series {name}: 'ts' and 'values' must be lists of equal length")
    try:
        ts_f = [float(t) for t in ts]
        values_f = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"series {name}: non-numeric timestamp or value") from exc
    if ts_f and max(ts_f) > 1e11:  # milliseconds, as Prometheus tooling sends them
        ts_f = [t / 1000.0 for t in ts_f]
    # min/max skip NaN depending on its place; a NaN makes the sum NaN wherever it is
    if ts_f and not (min(ts_f) >= 0.0 and max(ts_f) <= MAX_TIME and sum(ts_f) == sum(ts_f)):
        raise DecodeError(f"series {name}: a timestamp is out of range (1970 to 9999)")
    return name, labels, ts_f, values_f


def decode_metric_columns(data: bytes | str) -> MetricColumns:
    """Any accepted metrics message as columns; the series shape skips per-point objects.

    The columnar shape ``{"series": [{"name", "labels", "ts": [...], "values": [...]}]}``
    carries each series' name and labels once per message, like a remote_write request.
    A sample or series may say what kind of metric it is (``"type": "counter"``, as in
    remote_write metadata); the detect stage's metric semantics read it from
    :attr:`MetricColumns.types`.
    """
    obj = loads(data)
    if isinstance(obj, Mapping) and "series" in obj:
        entries = obj["series"]
        if not isinstance(entries, list):
            raise DecodeError("'series' must be a list")
        cols = MetricColumns.from_series([_series_entry(e) for e in entries])
        for i, entry in enumerate(entries):
            if "type" in entry:
                cols.types[series_key(cols.names[i], cols.labels[i])] = _metric_type(
                    entry["type"])
        return cols
    if isinstance(obj, Mapping) and "samples" in obj:
        raw = obj["samples"]
        if not isinstance(raw, list):
            raise DecodeError("'samples' must be a list")
    else:
        raw = obj if isinstance(obj, list) else [obj]
    samples = [metric_from_dict(s) for s in raw]
    cols = MetricColumns.from_samples(samples)
    for item, sample in zip(raw, samples, strict=True):
        if type(item) is dict and "type" in item:
            cols.types[sample.key] = _metric_type(item["type"])
    return cols


METRIC_TYPES = frozenset(("counter", "gauge", "histogram", "gaugehistogram", "summary", "info",
                          "stateset", "unknown"))


def _metric_type(raw: object) -> str:
    """A declared metric type (Prometheus/OpenMetrics names, case-insensitive)."""
    name = str(raw).lower()
    if name not in METRIC_TYPES:
        raise DecodeError(f"metric type {raw!r} is not one of {', '.join(sorted(METRIC_TYPES))}")
    return name


def encode_metric_series(samples: Sequence[MetricSample]) -> bytes:
    """Encode samples in the columnar series shape (grouped by series, order kept)."""
    grouped: dict[str, dict[str, Any]] = {}
    for sample in samples:
        entry = grouped.get(sample.key)
        if entry is None:
            entry = grouped[sample.key] = {"name": sample.name, "labels": dict(sample.labels),
                                           "ts": [], "values": []}
        entry["ts"].append(sample.ts)
        value = sample.value
        entry["values"].append(value if math.isfinite(value) else str(value))
    return dumps({"series": list(grouped.values())})


def metric_to_dict(sample: MetricSample) -> dict[str, Any]:
    value = sample.value
    return {
        "name": sample.name,
        "labels": dict(sample.labels),
        "ts": sample.ts,
        # JSON has no NaN; Prometheus' stale marker and NaN travel as strings.
        "value": value if math.isfinite(value) else str(value),
    }


def encode_metrics(samples: list[MetricSample]) -> bytes:
    if len(samples) == 1:
        return dumps(metric_to_dict(samples[0]))
    return dumps({"samples": [metric_to_dict(s) for s in samples]})
