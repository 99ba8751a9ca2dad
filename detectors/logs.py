"""Log records in, alerts out: per-service error-rate baselines in event-time buckets.

The service-wide error rate catches "everything is failing"; the optional
:class:`~detectors.log_templates.TemplateRates` catches "one new kind of failure".

Logs are counted per service in fixed event-time buckets; when a bucket closes, its count of
error-level records is compared with the service's running baseline (EWMA mean and variance
of past buckets, with a Poisson floor so a quiet service is not judged by a zero variance).
A count far above the baseline, and at least ``min_errors``, fires ``LogErrorRate`` for the
service; a closed bucket back within the band resolves it.

>>> from aiops.model import LogRecord
>>> alerter = LogAlerter(bucket_seconds=60, warmup_buckets=5, min_errors=5)
>>> quiet = [LogRecord(float(t), "cart", "error" if t % 120 == 0 else "info", "x")
...          for t in range(0, 1200, 10)]
>>> alerter.process(quiet)
[]
>>> burst = [LogRecord(1200.0 + i, "cart", "error", "db timeout") for i in range(40)]
>>> [a.labels["alertname"] for a in alerter.process(burst + [LogRecord(1290.0, "cart",
...                                                                    "info", "ok")])]
['LogErrorRate']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aiops.model import Alert, AlertStatus, LogRecord, Severity
from detectors.log_levels import ERROR_LEVELS, is_error, poisson_score
from detectors.log_templates import TemplateRates

__all__ = ["ERROR_LEVELS", "LogAlerter", "TemplateRates", "is_error", "poisson_score"]

@dataclass(slots=True)
class _ServiceRate:
    bucket: float
    errors: int = 0
    total: int = 0
    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    firing: Alert | None = None
    example: str = ""


class LogAlerter:
    """Per-service error-rate alerts from log records (event time)."""

    def __init__(self, *, bucket_seconds: float = 60.0, alpha: float = 0.05,
                 warmup_buckets: int = 10, min_errors: int = 5, fire_z: float = 4.0,
                 clear_z: float = 2.0, max_gap_buckets: int = 60,
                 alertname: str = "LogErrorRate",
                 templates: TemplateRates | None = None) -> None:
        self.templates = templates
        self.bucket_seconds = bucket_seconds
        self.alpha = alpha
        self.warmup_buckets = warmup_buckets
        self.min_errors = min_errors
        self.fire_z = fire_z
        self.clear_z = clear_z
        self.max_gap_buckets = max_gap_buckets
        self.alertname = alertname
        self._services: dict[str, _ServiceRate] = {}

    def process(self, records: Sequence[LogRecord]) -> list[Alert]:
        """Count every record; return alerts for buckets that closed with an abnormal rate,
        and (with ``templates``) new error templates and template surges."""
        out: list[Alert] = []
        if self.templates is not None:
            out.extend(self.templates.process(records))
        width = self.bucket_seconds
        for rec in records:
            if not math.isfinite(rec.ts):
                continue
            bucket = math.floor(rec.ts / width) * width
            st = self._services.get(rec.service)
            if st is None:
                st = self._services[rec.service] = _ServiceRate(bucket=bucket)
            if bucket > st.bucket:
                self._close(rec.service, st, bucket, out)
            st.total += 1
            if is_error(rec.level):
                st.errors += 1
                st.example = rec.message
        return out

    def _close(self, service: str, st: _ServiceRate, new_bucket: float,
               out: list[Alert]) -> None:
        counts = [st.errors]
        gaps = round((new_bucket - st.bucket) / self.bucket_seconds) - 1
        counts.extend([0] * min(max(gaps, 0), self.max_gap_buckets))
        end = st.bucket + self.bucket_seconds
        for i, count in enumerate(counts):
            z, score = poisson_score(count, st.mean, st.var)
            ready = st.n >= self.warmup_buckets
            abnormal = ready and count >= self.min_errors and z >= self.fire_z
            if st.firing is None and abnormal:
                st.firing = self._alert(service, st, count, z, score, st.bucket)
                out.append(st.firing)
            elif st.firing is not None and z < self.clear_z:
                f = st.firing
                out.append(Alert(labels=f.labels, annotations=f.annotations,
                                 starts_at=f.starts_at, ends_at=end + i * self.bucket_seconds,
                                 status=AlertStatus.RESOLVED))
                st.firing = None
            if not abnormal:
                a = max(self.alpha, 1.0 / (st.n + 1.0))
                d = count - st.mean
                st.mean += a * d
                st.var = (1.0 - a) * (st.var + a * d * d)
                st.n += 1
        st.bucket = new_bucket
        st.errors = 0
        st.total = 0

    def _alert(self, service: str, st: _ServiceRate, count: int, z: float, score: float,
               start: float) -> Alert:
        sd = math.sqrt(max(st.var, st.mean) + 1.0)
        high = st.mean + self.fire_z * sd
        labels = {"alertname": self.alertname, "service": service,
                  "severity": Severity.WARNING.value}
        annotations = {
            "summary": f"{service} logs errors at an unusual rate",
            "description": (f"{service} logged {count} errors in {self.bucket_seconds:g}s, "
                            f"expected 0 .. {high:.1f} (z {z:.1f}, anomaly score {score:.4f}); "
                            f"e.g. {st.example[:300]}"),
            "value": str(count),
            "expected_low": "0",
            "expected_high": f"{high:.6g}",
            "score": f"{score:.6f}",
            "example": st.example[:1000],
        }
        return Alert(labels=labels, annotations=annotations, starts_at=start)
