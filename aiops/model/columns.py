"""Metric samples as columns: the shape of the hot path from the wire to the detectors.

A batch of samples is kept as per-point arrays (series index, timestamp, value) plus
per-series names, labels and keys, so decoding and detection touch a Python object per
series rather than per point. :meth:`MetricColumns.sample` rebuilds a
:class:`~aiops.model.MetricSample` for the rare point that becomes an alert.

>>> cols = MetricColumns.from_samples([MetricSample("cpu", {"service": "a"}, 1.0, 0.5),
...                                    MetricSample("cpu", {"service": "a"}, 2.0, 0.7)])
>>> len(cols), cols.keys, cols.sample(1).value
(2, ['cpu{service="a"}', 'cpu{service="a"}'], 0.7)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from aiops.model.types import MetricSample, series_key


@dataclass(slots=True)
class MetricColumns:
    names: list[str] = field(default_factory=list)
    labels: list[Mapping[str, str]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    series: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    ts: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    values: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    #: series key -> declared metric type (counter, gauge, histogram, summary...), for the
    #: series whose sender said so (remote_write metadata, a ``type`` field); sparse.
    types: dict[str, str] = field(default_factory=dict)
    #: per series (indexed like ``names``): the quantum its values move in, NaN where not
    #: known, and whether the values are rates of counted events (shot noise applies);
    #: set by the detect stage's metric semantics for the alert policy, None on raw input
    resolution: npt.NDArray[np.float64] | None = None
    counting: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def sample(self, i: int) -> MetricSample:
        s = int(self.series[i])
        return MetricSample(self.names[s], self.labels[s], float(self.ts[i]),
                            float(self.values[i]))

    def samples(self) -> list[MetricSample]:
        return [self.sample(i) for i in range(len(self))]

    @classmethod
    def from_samples(cls, samples: Sequence[MetricSample]) -> MetricColumns:
        index: dict[str, int] = {}
        names: list[str] = []
        labels: list[Mapping[str, str]] = []
        keys = [s.key for s in samples]
        series = np.empty(len(samples), dtype=np.int64)
        for i, (key, sample) in enumerate(zip(keys, samples, strict=True)):
            slot = index.get(key)
            if slot is None:
                slot = index[key] = len(names)
                names.append(sample.name)
                labels.append(sample.labels)
            series[i] = slot
        ts = np.fromiter((s.ts for s in samples), dtype=np.float64, count=len(samples))
        values = np.fromiter((s.value for s in samples), dtype=np.float64, count=len(samples))
        return cls(names, labels, keys, series, ts, values)

    @classmethod
    def from_series(
        cls,
        entries: Sequence[tuple[str, Mapping[str, str], Sequence[float], Sequence[float]]],
    ) -> MetricColumns:
        """Build from ``(name, labels, timestamps, values)`` per series (wire order kept)."""
        names = [e[0] for e in entries]
        labels = [e[1] for e in entries]
        lengths = [len(e[3]) for e in entries]
        keys: list[str] = []
        for name, lab, n in zip(names, labels, lengths, strict=True):
            keys.extend([series_key(name, lab)] * n)
        total = sum(lengths)
        series = np.repeat(np.arange(len(entries), dtype=np.int64), lengths)
        ts = np.fromiter((t for e in entries for t in e[2]), dtype=np.float64, count=total)
        values = np.fromiter((v for e in entries for v in e[3]), dtype=np.float64, count=total)
        return cls(names, labels, keys, series, ts, values)

    @classmethod
    def concat(cls, parts: Sequence[MetricColumns]) -> MetricColumns:
        if len(parts) == 1:
            return parts[0]
        names: list[str] = []
        labels: list[Mapping[str, str]] = []
        keys: list[str] = []
        offsets = []
        for part in parts:
            offsets.append(len(names))
            names.extend(part.names)
            labels.extend(part.labels)
            keys.extend(part.keys)
        if not parts:
            return cls()
        types: dict[str, str] = {}
        for part in parts:
            types.update(part.types)
        series = np.concatenate([p.series + off for p, off in zip(parts, offsets, strict=True)])
        out = cls(names, labels, keys, series, np.concatenate([p.ts for p in parts]),
                  np.concatenate([p.values for p in parts]), types)
        if any(p.resolution is not None for p in parts):
            out.resolution = np.concatenate([
                p.resolution if p.resolution is not None else np.full(len(p.names), np.nan)
                for p in parts])
            out.counting = np.concatenate([
                p.counting if p.counting is not None else np.zeros(len(p.names), bool)
                for p in parts])
        return out
