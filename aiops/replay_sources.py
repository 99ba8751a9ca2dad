"""The recorded files of a replay, read in event-time order without losing or hiding a line.

Each file is scanned once: every line's event time is read (``ts``, ``timestamp`` or
``startsAt``, the earliest of a ``samples`` batch), and a line that cannot be decoded (a bare
``NaN`` token, a truncated line, no time) becomes a :class:`BadLine` with its line number, for
the dead letters. Only a compact index is kept (time and byte offset per line, 16 bytes), so
a recorded day fits in memory. A file already in event-time order is then streamed as it is;
a file that is not is replayed in event-time order by seeking to each line in turn (a stable
order: equal times keep their file order), and how many lines were out of order (and by how
much) is reported, so nothing is sorted away silently and nothing arrives late downstream.

>>> event_time({"ts": 5, "value": 1})
5.0
>>> event_time({"samples": [{"ts": 9}, {"ts": 7}]})
7.0
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from aiops.model import DecodeError
from aiops.wire.timefmt import parse_time
from streams.producer import Record


def event_time(obj: object) -> float:
    """The record's event time in epoch seconds; :class:`DecodeError` if it has none."""
    if isinstance(obj, dict):
        for key in ("ts", "timestamp", "startsAt"):
            if key in obj:
                ts = parse_time(obj[key], field=key)
                if ts is not None:
                    if key == "startsAt" and obj.get("status") == "resolved":
                        ts = parse_time(obj.get("endsAt"), field="endsAt") or ts
                    if not math.isfinite(ts):
                        raise DecodeError(f"{key} is not a finite time")
                    return ts
        samples = obj.get("samples") or obj.get("records")
        if isinstance(samples, list) and samples:
            return min(event_time(s) for s in samples)
    raise DecodeError("record has no event time (ts, timestamp or startsAt)")


@dataclass(frozen=True)
class BadLine:
    """A line that could not be replayed: where it is, why, and its bytes."""

    source: str
    line: int
    reason: str
    value: bytes

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "line": self.line, "reason": self.reason,
                "value": self.value.decode("utf-8", "replace")[:100_000]}


@dataclass
class SourceReport:
    """What the scan of one file found."""

    path: Path
    topic: str
    records: int = 0
    bad: int = 0
    out_of_order: int = 0
    max_lateness_s: float = 0.0
    size: int = 0

    def describe(self, *, sorted_: bool = True) -> str:
        text = f"{self.path.name}: {self.records} record(s)"
        if self.bad:
            text += f", {self.bad} undecodable (dead letters)"
        if self.out_of_order:
            how = "event-time order" if sorted_ else "file order, as recorded"
            text += (f", {self.out_of_order} out of event-time order (up to "
                     f"{self.max_lateness_s:g} s late), replayed in {how}")
        return text


Progress = Callable[[str], None]


class SourceFile:
    """One recorded file: scanned into an index, then iterated in event-time order."""

    def __init__(self, path: Path, topic: str) -> None:
        self.path = path
        self.topic = topic
        self.report = SourceReport(path, topic, size=path.stat().st_size)
        self._times = array("d")
        self._offsets = array("q")
        self._lines = array("q")

    def scan(self, dead: Callable[[BadLine], None], progress: Progress) -> SourceReport:
        report = self.report
        latest = -math.inf
        offset = 0
        with self.path.open("rb") as handle:
            for lineno, line in enumerate(handle, 1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    ts = event_time(orjson.loads(line))
                except (orjson.JSONDecodeError, DecodeError) as exc:
                    report.bad += 1
                    reason = exc.reason if isinstance(exc, DecodeError) else str(exc)
                    dead(BadLine(str(self.path), lineno, reason, line.rstrip(b"\r\n")))
                    continue
                if ts < latest:
                    report.out_of_order += 1
                    report.max_lateness_s = max(report.max_lateness_s, latest - ts)
                else:
                    latest = ts
                self._times.append(ts)
                self._offsets.append(start)
                self._lines.append(lineno)
                report.records += 1
                if lineno % 65536 == 0:
                    progress(f"scanning {self.path.name}: {100 * offset / max(report.size, 1):.0f}%"
                             f" ({report.records} records)")
        return report

    def records(self, *, sort: bool = True) -> Iterator[tuple[float, int, Record]]:
        """(time, line, record) in event-time order (file order for equal times), or in file
        order when ``sort`` is false (as a live consumer of the file would see it)."""
        with self.path.open("rb") as handle:
            if not self.report.out_of_order or not sort:
                yield from self._in_file_order(handle)
            else:
                yield from self._sorted(handle)

    def _in_file_order(self, handle: BinaryIO) -> Iterator[tuple[float, int, Record]]:
        index = 0
        wanted = self._lines
        for lineno, line in enumerate(handle, 1):
            if index < len(wanted) and wanted[index] == lineno:
                yield self._times[index], lineno, Record(self.topic, None, line.rstrip(b"\r\n"))
                index += 1

    def _sorted(self, handle: BinaryIO) -> Iterator[tuple[float, int, Record]]:
        times = self._times
        order = sorted(range(len(times)), key=times.__getitem__)  # stable: file order on ties
        for i in order:
            handle.seek(self._offsets[i])
            line = handle.readline()
            yield times[i], self._lines[i], Record(self.topic, None, line.rstrip(b"\r\n"))


class Ticker:
    """Calls ``emit`` at most every ``every`` seconds (0: never), for progress on stderr."""

    def __init__(self, emit: Callable[[str], None], every: float) -> None:
        self._emit = emit
        self._every = every
        self._next = time.monotonic() + every

    def __call__(self, message: str, *, force: bool = False) -> None:
        if self._every <= 0:
            return
        now = time.monotonic()
        if force or now >= self._next:
            self._next = now + self._every
            self._emit(message)
