"""Log template mining (Drain3) per service, with per-template rate baselines.

A service's logs are a handful of templates repeated with different parameters. Mining
them (Drain3, one miner per service, numbers/addresses/ids masked first) turns free text
into counters that baselines understand. Two things become alerts:

* a **new template at error level or above**, once the service is past its warm-up (a
  service that has talked for a while and suddenly says something it never said, at
  error level, is news: ``LogNewErrorTemplate``);
* a **template whose rate is far above its own baseline** in an event-time bucket (a
  known message that usually appears twice a minute appearing 300 times:
  ``LogTemplateSurge``), or far below it while the service keeps logging (the "request
  served" line disappears while errors pile up: ``LogTemplateDrop``). A new rate that
  lasts ``rebaseline_buckets`` becomes the baseline.

Both carry the template and an example line, and resolve when a later bucket of the
template is back within its band (a new-template alert, when the template has been quiet
for ``quiet_buckets`` buckets).

>>> from aiops.model import LogRecord
>>> tr = TemplateRates(bucket_seconds=60, warmup_records=50, warmup_buckets=5)
>>> calm = [LogRecord(float(t), "cart", "info", f"served request {t} in {t % 7} ms")
...         for t in range(0, 1200, 3)]
>>> tr.process(calm)
[]
>>> [a.labels["alertname"] for a in tr.process([LogRecord(1201.0, "cart", "error",
...     "payment gateway 10.0.0.7 refused connection")])]
['LogNewErrorTemplate']
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from aiops.model import Alert, AlertStatus, LogRecord, Severity
from detectors.log_levels import is_error, poisson_score

_MASKS = (
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"\b0x[0-9a-fA-F]+\b", "HEX"),
    (r"\b[0-9a-fA-F]{16,}\b", "HEX"),
    (r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?(?:ms|s|us|ns|kb|mb|gb|%)?\b", "NUM"),
)


def new_miner(*, sim_threshold: float = 0.4, max_clusters: int = 1000) -> TemplateMiner:
    """A Drain3 miner configured in code (no ini file, no persistence handler)."""
    config = TemplateMinerConfig()
    config.drain_sim_th = sim_threshold
    config.drain_max_clusters = max_clusters
    config.masking_instructions = [MaskingInstruction(p, m) for p, m in _MASKS]
    return TemplateMiner(config=config)


@dataclass(slots=True)
class _Template:
    bucket: float
    count: int = 0
    n: int = 0
    mean: float = 0.0
    var: float = 0.0
    quiet: int = 0
    off: int = 0
    error: bool = False
    template: str = ""
    example: str = ""
    firing: Alert | None = None


@dataclass(slots=True)
class _Service:
    miner: TemplateMiner
    first_ts: float
    records: int = 0
    bucket: float = 0.0
    templates: dict[int, _Template] = field(default_factory=dict)


class TemplateRates:
    """Per-service Drain3 templates, each with an event-time rate baseline."""

    def __init__(self, *, bucket_seconds: float = 60.0, alpha: float = 0.05,
                 warmup_records: int = 500, warmup_buckets: int = 10, min_count: int = 10,
                 fire_z: float = 5.0, clear_z: float = 2.0, quiet_buckets: int = 10,
                 sim_threshold: float = 0.4, max_templates: int = 1000,
                 rebaseline_buckets: int = 60) -> None:
        self.rebaseline_buckets = rebaseline_buckets
        self.bucket_seconds = bucket_seconds
        self.alpha = alpha
        self.warmup_records = warmup_records
        self.warmup_buckets = warmup_buckets
        self.min_count = min_count
        self.fire_z = fire_z
        self.clear_z = clear_z
        self.quiet_buckets = quiet_buckets
        self.sim_threshold = sim_threshold
        self.max_templates = max_templates
        self._services: dict[str, _Service] = {}

    def templates(self, service: str) -> dict[int, str]:
        """The templates mined so far for ``service``, by cluster id."""
        st = self._services.get(service)
        return {} if st is None else {k: t.template for k, t in st.templates.items()}

    def process(self, records: Sequence[LogRecord]) -> list[Alert]:
        out: list[Alert] = []
        width = self.bucket_seconds
        for rec in records:
            if not math.isfinite(rec.ts):
                continue
            bucket = math.floor(rec.ts / width) * width
            svc = self._services.get(rec.service)
            if svc is None:
                svc = self._services[rec.service] = _Service(
                    new_miner(sim_threshold=self.sim_threshold,
                              max_clusters=self.max_templates), rec.ts, bucket=bucket)
            if bucket > svc.bucket:
                self._close(rec.service, svc, bucket, out)
            mined = svc.miner.add_log_message(rec.message)
            cid = int(mined["cluster_id"])
            tpl = svc.templates.get(cid)
            error = is_error(rec.level)
            warm = (svc.records >= self.warmup_records
                    and rec.ts - svc.first_ts >= self.warmup_buckets * width)
            svc.records += 1
            if tpl is None:
                tpl = svc.templates[cid] = _Template(bucket=bucket)
                if error and warm and mined["change_type"] == "cluster_created":
                    tpl.template = str(mined["template_mined"])
                    tpl.example = rec.message
                    tpl.error = True
                    tpl.firing = self._alert("LogNewErrorTemplate", rec.service, cid, tpl,
                                             rec.ts, f"new error-level log template in "
                                             f"{rec.service}")
                    out.append(tpl.firing)
            tpl.count += 1
            tpl.error = tpl.error or error
            tpl.template = str(mined["template_mined"])
            tpl.example = rec.message
        return out

    def _close(self, service: str, svc: _Service, new_bucket: float, out: list[Alert]) -> None:
        gaps = min(max(round((new_bucket - svc.bucket) / self.bucket_seconds) - 1, 0),
                   self.quiet_buckets + 1)
        for cid, tpl in svc.templates.items():
            counts = [tpl.count, *([0] * gaps)]
            for i, count in enumerate(counts):
                end = svc.bucket + (i + 1) * self.bucket_seconds
                self._judge(service, cid, tpl, count, svc.bucket + i * self.bucket_seconds,
                            end, out)
            tpl.count = 0
        svc.bucket = new_bucket

    def _judge(self, service: str, cid: int, tpl: _Template, count: int, start: float,
               end: float, out: list[Alert]) -> None:
        z, score = poisson_score(count, tpl.mean, tpl.var)
        ready = tpl.n >= self.warmup_buckets
        surge = ready and count >= self.min_count and z >= self.fire_z
        # a steady template that (nearly) stops while its service keeps logging
        drop = ready and tpl.mean >= self.min_count and -z >= self.fire_z
        tpl.quiet = tpl.quiet + 1 if count == 0 else 0
        tpl.off = tpl.off + 1 if (surge or drop) else 0
        if tpl.firing is None and (surge or drop):
            if surge:
                tpl.firing = self._alert("LogTemplateSurge", service, cid, tpl, start,
                                         f"{service} logs one template far more often than "
                                         "usual", count=count, z=z, score=score)
            else:
                drop_score = math.erf(-z / math.sqrt(2.0))
                tpl.firing = self._alert("LogTemplateDrop", service, cid, tpl, start,
                                         f"{service} stopped logging a usual template",
                                         count=count, z=z, score=drop_score)
            out.append(tpl.firing)
        elif tpl.firing is not None:
            kind = tpl.firing.labels["alertname"]
            if kind == "LogNewErrorTemplate":
                calm = tpl.quiet >= self.quiet_buckets
            elif kind == "LogTemplateDrop":
                calm = not drop and -z < self.clear_z
            else:
                calm = ready and z < self.clear_z
            if calm:
                f = tpl.firing
                out.append(Alert(labels=f.labels, annotations=f.annotations,
                                 starts_at=f.starts_at, ends_at=end,
                                 status=AlertStatus.RESOLVED))
                tpl.firing = None
        # abnormal buckets stay out of the baseline, unless the new rate has lasted long
        # enough to be the new normal (a retired code path, a permanently busier feature)
        if not (surge or drop) or tpl.off >= self.rebaseline_buckets:
            a = max(self.alpha, 1.0 / (tpl.n + 1.0))
            d = count - tpl.mean
            tpl.mean += a * d
            tpl.var = (1.0 - a) * (tpl.var + a * d * d)
            tpl.n += 1

    def _alert(self, alertname: str, service: str, cid: int, tpl: _Template, start: float,
               summary: str, *, count: int = 1, z: float = float("inf"),
               score: float = 1.0) -> Alert:
        severity = Severity.CRITICAL if tpl.error and alertname == "LogTemplateSurge" \
            else Severity.WARNING
        high = tpl.mean + self.fire_z * math.sqrt(max(tpl.var, tpl.mean) + 1.0)
        labels = {"alertname": alertname, "service": service, "severity": severity.value,
                  "log_template": str(cid)}
        annotations = {
            "summary": summary,
            "description": (f"{count} lines of template '{tpl.template[:200]}' in "
                            f"{self.bucket_seconds:g}s, expected 0 .. {high:.1f} "
                            f"(anomaly score {score:.4f}); e.g. {tpl.example[:300]}"),
            "template": tpl.template,
            "example": tpl.example[:1000],
            "value": str(count),
            "expected_low": "0",
            "expected_high": f"{high:.6g}",
            "score": f"{score:.6f}",
        }
        return Alert(labels=labels, annotations=annotations, starts_at=start)

    def snapshot(self) -> dict[str, Any]:
        """Miners and baselines, pickled (Drain3's own state is a plain object graph)."""
        return {"detector": "log-templates", "version": 1,
                "services": pickle.dumps(self._services)}

    def restore(self, state: dict[str, Any]) -> None:
        self._services = pickle.loads(state["services"])
