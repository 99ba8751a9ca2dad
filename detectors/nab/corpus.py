"""Reading and writing NAB-format files: data, labels and detector results.

* data: ``<category>/<name>.csv`` with a ``timestamp,value`` header;
* labels: ``combined_windows.json``, ``{"<category>/<name>.csv": [[start, end], ...]}``
  with timestamps like ``2014-04-10 07:15:00.000000``;
* results: the same relative paths, ``timestamp,value,anomaly_score`` per row.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from aiops.model import DecodeError

FloatArray = npt.NDArray[np.float64]


def parse_timestamp(text: str) -> float:
    """NAB timestamps are naive; they are read as UTC seconds since the epoch."""
    text = text.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise DecodeError(f"unrecognised timestamp {text!r}", kind="NAB row")


@dataclass(frozen=True, slots=True)
class Series:
    """One NAB file: its relative path, raw timestamp strings, epoch seconds and values."""

    path: str
    stamps: tuple[str, ...]
    ts: FloatArray
    values: FloatArray
    scores: FloatArray | None = None


def read_series(root: Path, rel: str, *, with_scores: bool = False) -> Series:
    stamps: list[str] = []
    values: list[float] = []
    scores: list[float] = []
    with (root / rel).open(newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or header[:2] != ["timestamp", "value"]:
            raise DecodeError(f"{rel}: expected a 'timestamp,value' header", kind="NAB file")
        col = header.index("anomaly_score") if with_scores else -1
        if with_scores and col < 0:
            raise DecodeError(f"{rel}: no anomaly_score column", kind="NAB result")
        for row in reader:
            if not row:
                continue
            stamps.append(row[0])
            values.append(float(row[1]) if row[1] else float("nan"))
            if with_scores:
                scores.append(float(row[col]))
    ts = np.array([parse_timestamp(s) for s in stamps], dtype=np.float64)
    return Series(rel, tuple(stamps), ts, np.array(values, dtype=np.float64),
                  np.array(scores, dtype=np.float64) if with_scores else None)


def iter_files(root: Path) -> Iterator[str]:
    """Relative paths of every ``<category>/<name>.csv`` under ``root``, sorted."""
    for path in sorted(root.glob("*/*.csv")):
        yield path.relative_to(root).as_posix()


def write_results(root: Path, series: Series, scores: Sequence[float] | FloatArray) -> Path:
    out = root / series.path
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for stamp, value, score in zip(series.stamps, series.values.tolist(),
                                       np.asarray(scores).tolist(), strict=True):
            writer.writerow([stamp, repr(value), f"{score:.8f}"])
    return out


def read_labels(path: Path) -> dict[str, list[tuple[float, float]]]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DecodeError(f"{path}: {exc}", kind="NAB labels") from exc
    return {k: [(parse_timestamp(a), parse_timestamp(b)) for a, b in v] for k, v in raw.items()}


def window_rows(ts: FloatArray, windows: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """Inclusive (first, last) row indexes of each labelled window that holds rows."""
    out: list[tuple[int, int]] = []
    for start, end in windows:
        first = int(np.searchsorted(ts, start, side="left"))
        last = int(np.searchsorted(ts, end, side="right")) - 1
        if first <= last:
            out.append((first, last))
    return out
