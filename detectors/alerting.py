"""Metric samples in, Alertmanager-shaped alerts out: a detector plus an alert policy.

This is the detect stage's boundary. :class:`MetricAlerter` scores and learns every sample
in event order (one vectorised detector call per batch), runs the alert policy only on the
few points that matter (scores at or above the clear threshold, or series already pending or
firing), and returns the alerts that start firing and the resolves of those that calmed
down. A resolve carries exactly the labels of its firing alert, so it has the same
Alertmanager fingerprint.

>>> from aiops.model import MetricSample
>>> from detectors.zscore import RollingZScore
>>> alerter = MetricAlerter(RollingZScore(warmup=10), AlertPolicy(for_count=1, resolve_count=1))
>>> calm = [MetricSample("latency", {"service": "cart"}, float(t), 1.0 + 0.01 * (t % 3))
...         for t in range(50)]
>>> alerter.process(calm)
[]
>>> [a.status.value for a in alerter.process([MetricSample("latency", {"service": "cart"},
...                                                       50.0, 9.0)])]
['firing']
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from aiops.model import Alert, AlertStatus, MetricSample, Severity, service_of
from aiops.model.columns import MetricColumns
from detectors.base import Detector
from detectors.policy import AlertPolicy, PolicyTracker


@dataclass(frozen=True, slots=True)
class _Firing:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float


def _fmt(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{x:.6g}"


class MetricAlerter:
    """Turns metric samples into firing and resolved alerts, keyed by series."""

    def __init__(self, detector: Detector, policy: AlertPolicy, *,
                 alertname: str = "MetricAnomaly", detector_name: str = "",
                 generator_url: str = "") -> None:
        self.detector = detector
        self.policy = policy
        self.alertname = alertname
        self.detector_name = detector_name or getattr(detector, "name", type(detector).__name__)
        self.generator_url = generator_url
        self._tracker = PolicyTracker(policy)
        self._firing: dict[Hashable, _Firing] = {}

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now (as last emitted)."""
        return [Alert(labels=f.labels, annotations=f.annotations, starts_at=f.starts_at,
                      generator_url=self.generator_url) for f in self._firing.values()]

    def process(self, samples: Sequence[MetricSample]) -> list[Alert]:
        """Score and learn every sample (event time); return alerts that start firing
        and the matching resolved alerts when a series is back to normal."""
        if not samples:
            return []
        return self.process_columns(MetricColumns.from_samples(samples))

    def process_columns(self, batch: MetricColumns) -> list[Alert]:
        """:meth:`process` on a columnar batch: no per-point objects on the hot path."""
        if len(batch) == 0:
            return []
        keys = batch.keys
        ts = batch.ts
        result = self.detector.assess_many(keys, ts, batch.values)
        hot = result.score >= self.policy.clear_threshold
        tracker = self._tracker
        # every point of a series that is tracked or becomes hot in this batch is stepped,
        # so that a pending run is broken by the low points that follow it
        watch = set(tracker.tracked)
        watch.update(keys[i] for i in np.flatnonzero(hot).tolist())
        if watch:
            hot = np.fromiter(map(watch.__contains__, keys), dtype=bool, count=len(keys))
        out: list[Alert] = []
        for i in np.flatnonzero(hot).tolist():
            key = keys[i]
            score = float(result.score[i])
            change = tracker.step(key, float(ts[i]), score)
            if change == "fire":
                st = tracker.state(key)
                peak = st.peak if st is not None else score
                fire = self._fire(batch.sample(i), peak, float(result.low[i]),
                                  float(result.high[i]),
                                  st.fired_at if st is not None else float(ts[i]))
                self._firing[key] = fire
                out.append(Alert(labels=fire.labels, annotations=fire.annotations,
                                 starts_at=fire.starts_at, generator_url=self.generator_url))
            elif change == "resolve":
                fire_ = self._firing.pop(key, None)
                if fire_ is not None:
                    out.append(Alert(labels=fire_.labels, annotations=fire_.annotations,
                                     starts_at=fire_.starts_at, ends_at=float(ts[i]),
                                     status=AlertStatus.RESOLVED,
                                     generator_url=self.generator_url))
        return out

    def expire(self, now: float, idle_seconds: float) -> list[Alert]:
        """Forget series silent since ``now - idle_seconds`` and resolve their alerts.

        Series come and go (pods are replaced, routes retired); without this their state
        would stay forever and an alert on a series that vanished would never resolve.
        Detectors without per-series timestamps keep their state; alerts still resolve.
        """
        idle_keys = getattr(self.detector, "idle_keys", None)
        stale = idle_keys(now - idle_seconds) if idle_keys is not None else []
        out: list[Alert] = []
        for key in stale:
            fire = self._firing.pop(key, None)
            if fire is not None:
                out.append(Alert(labels=fire.labels, annotations=fire.annotations,
                                 starts_at=fire.starts_at, ends_at=now,
                                 status=AlertStatus.RESOLVED, generator_url=self.generator_url))
            self._tracker.forget(key)
        if stale:
            self.detector.forget(stale)
        return out

    def _fire(self, sample: MetricSample, score: float, low: float, high: float,
              starts_at: float) -> _Firing:
        service = service_of(sample.labels)
        severity = (Severity.CRITICAL if score >= self.policy.critical_threshold
                    else Severity.WARNING)
        labels = dict(sample.labels)
        labels.update({"alertname": self.alertname, "metric": sample.name,
                       "service": service, "severity": severity.value})
        where = f"{low:.4g} .. {high:.4g}" if not math.isnan(low) else "unknown"
        annotations = {
            "summary": f"{sample.name} on {service} is anomalous",
            "description": (f"{sample.name} on {service} is {sample.value:.4g}, expected "
                            f"{where} (anomaly score {score:.4f}, {self.detector_name})"),
            "value": _fmt(sample.value),
            "expected_low": _fmt(low),
            "expected_high": _fmt(high),
            "score": f"{score:.6f}",
            "metric": sample.name,
            "detector": self.detector_name,
        }
        return _Firing(labels=labels, annotations=annotations, starts_at=starts_at)
