"""The columnar metrics shape decodes to the same points as the per-sample shapes."""

from __future__ import annotations

import math

import pytest

from aiops.model import DecodeError, MetricSample
from aiops.model.columns import MetricColumns
from aiops.wire.shapes import decode_metric_columns, encode_metric_series, encode_metrics

SAMPLES = [
    MetricSample("cpu", {"service": "a"}, 10.0, 1.5),
    MetricSample("cpu", {"service": "b"}, 10.0, float("nan")),
    MetricSample("cpu", {"service": "a"}, 25.0, 2.5),
    MetricSample("mem", {"service": "a"}, 25.0, 7.0),
]


def _points(cols: MetricColumns) -> list[tuple[str, float, float]]:
    return sorted((cols.keys[i], float(cols.ts[i]), float(cols.values[i]))
                  for i in range(len(cols)))


def test_series_and_samples_shapes_agree() -> None:
    by_series = decode_metric_columns(encode_metric_series(SAMPLES))
    by_samples = decode_metric_columns(encode_metrics(SAMPLES))
    a, b = _points(by_series), _points(by_samples)
    assert [(k, t) for k, t, _ in a] == [(k, t) for k, t, _ in b]
    assert all((math.isnan(x) and math.isnan(y)) or x == y
               for (_, _, x), (_, _, y) in zip(a, b, strict=True))
    assert len(by_series.names) == 3  # names and labels once per series, not per point
    sample = by_series.sample(int(by_series.keys.index('cpu{service="b"}')))
    assert sample.labels == {"service": "b"} and math.isnan(sample.value)


def test_series_points_keep_their_order_within_a_series() -> None:
    cols = decode_metric_columns(encode_metric_series(SAMPLES))
    a_ts = [float(cols.ts[i]) for i in range(len(cols)) if cols.keys[i] == 'cpu{service="a"}']
    assert a_ts == [10.0, 25.0]


def test_concat_reindexes_series() -> None:
    one = MetricColumns.from_samples(SAMPLES[:2])
    two = MetricColumns.from_samples(SAMPLES[2:])
    both = MetricColumns.concat([one, two])
    assert [both.sample(i) for i in range(4)][2:] == SAMPLES[2:]


@pytest.mark.parametrize("body", [
    b'{"series": [{"name": "x", "ts": [1, 2], "values": [1]}]}',
    b'{"series": [{"labels": {}, "ts": [1], "values": [1]}]}',
    b'{"series": [{"name": "x", "ts": [1], "values": ["high"]}]}',
    b'{"series": {"name": "x"}}',
])
def test_malformed_series_are_refused_with_a_reason(body: bytes) -> None:
    with pytest.raises(DecodeError) as err:
        decode_metric_columns(body)
    assert err.value.reason
