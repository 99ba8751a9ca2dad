"""Streaming anomaly detectors, score post-processing, alert policy and log anomalies.

The detect stage builds its alerters with :func:`default_metric_alerter` and
:func:`default_log_alerter`; both take explicit arguments and build nothing at import time.
"""

from __future__ import annotations

from detectors.alerting import MetricAlerter
from detectors.base import Assessment, Detector, KeyedDetector, SnapshotError
from detectors.logs import LogAlerter
from detectors.policy import AlertPolicy, PolicyTracker
from detectors.zscore import RollingZScore

__all__ = [
    "AlertPolicy",
    "Assessment",
    "Detector",
    "KeyedDetector",
    "LogAlerter",
    "MetricAlerter",
    "PolicyTracker",
    "RollingZScore",
    "SnapshotError",
    "default_log_alerter",
    "default_metric_alerter",
]


def default_metric_alerter(*, threshold: float = 0.999, clear_threshold: float = 0.99,
                           for_count: int = 3, resolve_count: int = 5,
                           cooldown_seconds: float = 0.0,
                           alertname: str = "MetricAnomaly") -> MetricAlerter:
    """The metric alerter the engine runs unless told otherwise."""
    policy = AlertPolicy(threshold=threshold, clear_threshold=clear_threshold,
                         for_count=for_count, resolve_count=resolve_count,
                         cooldown_seconds=cooldown_seconds)
    return MetricAlerter(RollingZScore(), policy, alertname=alertname)


def default_log_alerter(*, bucket_seconds: float = 60.0, min_errors: int = 5,
                        fire_z: float = 4.0) -> LogAlerter:
    """The log alerter the engine runs unless told otherwise."""
    return LogAlerter(bucket_seconds=bucket_seconds, min_errors=min_errors, fire_z=fire_z)
