"""Streaming anomaly detectors, score post-processing, alert policy and log anomalies.

The detect stage builds its alerters with :func:`default_metric_alerter` and
:func:`default_log_alerter`; both take explicit arguments and build nothing at import time.
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors.alerting import MetricAlerter
from detectors.base import Assessment, Detector, KeyedDetector, SnapshotError
from detectors.ensemble import DEFAULT_SCORERS
from detectors.entity import EntityAlerter
from detectors.log_templates import TemplateRates
from detectors.logs import LogAlerter
from detectors.policy import AlertPolicy, PolicyTracker
from detectors.registry import builtin_detectors, default_detector
from detectors.zscore import RollingZScore

__all__ = [
    "AlertPolicy",
    "Assessment",
    "Detector",
    "EntityAlerter",
    "KeyedDetector",
    "LogAlerter",
    "MetricAlerter",
    "PolicyTracker",
    "RollingZScore",
    "SnapshotError",
    "TemplateRates",
    "builtin_detectors",
    "default_detector",
    "default_log_alerter",
    "default_metric_alerter",
]


def default_metric_alerter(*, threshold: float = 0.5, clear_threshold: float = 0.3,
                           for_count: int = 2, resolve_count: int = 5,
                           cooldown_seconds: float = 300.0, warmup: int = 20,
                           scorers: Sequence[str] = DEFAULT_SCORERS,
                           alertname: str = "MetricAnomaly",
                           accept_after_seconds: float = 86400.0) -> MetricAlerter:
    """The metric alerter the engine runs unless told otherwise.

    The detector is :func:`detectors.registry.default_detector` (the scorer ensemble, each
    scorer through its own anomaly likelihood); its scores are log-scaled tail
    probabilities, so the default threshold 0.5 fires at a tail probability of 1e-5 and
    0.3 (1e-3) is the clear level. A new series scores from its ``warmup``-th point, with
    a confidence that is widened while the series is young. ``scorers`` picks the
    ensemble's scorers (:data:`detectors.ensemble.SCORERS`). A level shift stays firing
    until the series returns, a person accepts the new level, or ``accept_after_seconds``
    pass (see :mod:`detectors.policy`).
    """
    policy = AlertPolicy(threshold=threshold, clear_threshold=clear_threshold,
                         for_count=for_count, resolve_count=resolve_count,
                         cooldown_seconds=cooldown_seconds, critical_threshold=0.9,
                         accept_after_seconds=accept_after_seconds)
    detector = default_detector(warmup=warmup, scorers=scorers)
    return MetricAlerter(detector, policy, alertname=alertname)


def default_log_alerter(*, bucket_seconds: float = 60.0, min_errors: int = 5,
                        fire_z: float = 4.0, templates: bool = True,
                        template_warmup_records: int = 500) -> LogAlerter:
    """The log alerter the engine runs unless told otherwise: the per-service error rate
    plus Drain3 templates (new error templates, template surges)."""
    rates = (TemplateRates(bucket_seconds=bucket_seconds,
                           warmup_records=template_warmup_records) if templates else None)
    return LogAlerter(bucket_seconds=bucket_seconds, min_errors=min_errors, fire_z=fire_z,
                      templates=rates)
