"""Log deviations: a service's error logs as evidence for the diagnosis, alerting or not.

The log alerter (:mod:`detectors.logs`) decides whether a person should hear about a burst
of errors; this tracker answers the diagnosis' question for every service that logs: are
its error records, right now, far from its own recent normal, and is it logging errors of a
kind it never logged before? Both become :class:`~aiops.model.deviation.Deviation` records
beside the metric ones, so a service whose metrics stay quiet but whose logs fill with
exceptions can still be named as the cause of its callers' alerts.

Two families per service:

* ``log_errors``: error-level records per bucket against the median and MAD of the
  service's last ``history`` buckets (empty buckets count as zero; robust, so a burst that
  lasts does not become its own baseline within minutes), with a Poisson floor on the
  variance, so a service that logs one error a minute does not deviate at three;
* ``log_new_error``: error records whose template (the message with numbers, hex and ids
  masked) the service has not logged in its history: a new kind of failure. Only after
  ``min_history`` buckets, so the first minutes of a service are not all "new".

A bucket is judged when event time passes its end (any later record of the partition), so
evidence trails the logs by at most one bucket.

>>> from aiops.model import LogRecord
>>> t = LogDeviationTracker(bucket_seconds=60.0, min_history=3)
>>> quiet = [LogRecord(60.0 * i + 1, "cart", "error", "retrying call 17") for i in range(5)]
>>> t.process(quiet)
[]
>>> burst = [LogRecord(301.0 + i, "cart", "error", f"db timeout after {i} ms")
...          for i in range(20)]
>>> [(d.family, d.value, d.expected, d.since) for d in t.process(burst)]
[]
>>> [(d.family, d.value, round(d.expected, 1), d.since)
...  for d in t.process([LogRecord(361.0, "cart", "info", "ok")])]
[('log_errors', 20.0, 1.0, 300.0), ('log_new_error', 20.0, 0.0, 300.0)]
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiops.model import LogRecord
from aiops.model.deviation import Deviation
from detectors.log_levels import is_error, poisson_score

_MASK = re.compile(r"0x[0-9a-fA-F]+|[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*|\d+(?:\.\d+)?")


def template_of(message: str) -> str:
    """The message with its variable parts masked: the same failure from different requests
    gives the same template.

    >>> template_of("timeout after 3000 ms calling 10.0.0.7:5432 (req 9f86d081884c7d65)")
    'timeout after <*> ms calling <*>.<*>:<*> (req <*>)'
    """
    return _MASK.sub("<*>", message.strip())[:200]


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2.0


def _key(template: str) -> str:
    return hashlib.blake2b(template.encode(), digest_size=6).hexdigest()


@dataclass(slots=True)
class _Service:
    start: float  # the open bucket's start
    errors: int = 0
    new: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (template, count)
    counts: deque[int] = field(default_factory=deque)  # closed buckets, oldest first
    known: dict[str, float] = field(default_factory=dict)  # template key -> last seen
    since: float | None = None  # start of the current run of deviating buckets


class LogDeviationTracker:
    """Per-service error-log deviations, in event time; bounded per service."""

    def __init__(self, *, bucket_seconds: float = 60.0, history: int = 60,
                 min_history: int = 5, z_level: float = 4.0, min_errors: int = 3,
                 max_templates: int = 2000) -> None:
        self.bucket_seconds = bucket_seconds
        self.history = history
        self.min_history = min_history
        self.z_level = z_level
        self.min_errors = min_errors
        self.max_templates = max_templates
        self._services: dict[str, _Service] = {}

    def process(self, records: Sequence[LogRecord]) -> list[Deviation]:
        """Count the records; judge every bucket that event time has passed."""
        out: list[Deviation] = []
        newest = -math.inf
        for record in records:
            if not math.isfinite(record.ts):
                continue
            newest = max(newest, record.ts)
            svc = self._service(record)
            if record.ts >= svc.start + self.bucket_seconds:
                self._close(record.service, svc, record.ts, out)
            if record.ts < svc.start or not is_error(record.level):
                continue  # a late record counts nowhere: its bucket was judged
            svc.errors += 1
            template = template_of(record.message)
            key = _key(template)
            if key in svc.known:
                svc.known[key] = record.ts
            else:
                held = svc.new.get(key)
                svc.new[key] = (template, (held[1] if held else 0) + 1)
        if math.isfinite(newest):  # a quiet service's bucket closes on the others' time
            for name, svc in self._services.items():
                if newest >= svc.start + self.bucket_seconds:
                    self._close(name, svc, newest, out)
        return out

    def _service(self, record: LogRecord) -> _Service:
        svc = self._services.get(record.service)
        if svc is None:
            start = math.floor(record.ts / self.bucket_seconds) * self.bucket_seconds
            svc = self._services[record.service] = _Service(start)
        return svc

    def _close(self, name: str, svc: _Service, now: float, out: list[Deviation]) -> None:
        """Judge the open bucket, push it and any empty ones up to ``now`` into history."""
        start, end = svc.start, svc.start + self.bucket_seconds
        count = svc.errors
        history = svc.counts
        deviating = False
        if len(history) >= self.min_history:
            ordered = sorted(history)
            mean = _median(ordered)
            spread = 1.4826 * _median(sorted(abs(c - mean) for c in ordered))
            z, _ = poisson_score(count, mean, spread * spread)
            if count >= self.min_errors and z >= self.z_level:
                deviating = True
                svc.since = start if svc.since is None else svc.since
                out.append(Deviation(name, "log_errors", "error logs", "errors", float(count),
                                     mean, z, svc.since, end))
            novel = sum(n for _, n in svc.new.values())
            if novel >= self.min_errors:
                template = max(svc.new.values(), key=lambda tn: tn[1])[0]
                deviating = True
                svc.since = start if svc.since is None else svc.since
                out.append(Deviation(name, "log_new_error", f'new error log "{template[:80]}"',
                                     "errors", float(novel), 0.0,
                                     poisson_score(novel, 0.0, 0.0)[0], svc.since, end))
        if not deviating:
            svc.since = None
        for key in svc.new:
            svc.known[key] = end
        if len(svc.known) > self.max_templates:  # forget the stalest templates first
            for key, _ in sorted(svc.known.items(), key=lambda kv: kv[1])[
                    :len(svc.known) - self.max_templates]:
                del svc.known[key]
        svc.new = {}
        history.append(count)
        empty = min(int((now - end) // self.bucket_seconds), self.history)
        history.extend([0] * max(0, empty))
        while len(history) > self.history:
            history.popleft()
        svc.start = end + max(0, int((now - end) // self.bucket_seconds)) * self.bucket_seconds
        svc.errors = 0
