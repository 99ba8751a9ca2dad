"""EntityAlerter: one vector per service and interval, IsolationForest + likelihood."""

from __future__ import annotations

import numpy as np

from aiops.model import AlertStatus, MetricSample
from detectors.entity import EntityAlerter

METRICS = ("cpu", "latency", "rps")


def _interval(service: str, i: int, cpu: float, lat: float, rps: float) -> list[MetricSample]:
    t = 60.0 * i + 5
    return [MetricSample("cpu", {"service": service, "pod": "p1"}, t, cpu),
            MetricSample("latency", {"service": service}, t, lat),
            MetricSample("rps", {"service": service}, t + 20, rps),
            MetricSample("unrelated", {"service": service}, t, 1.0)]


def _calm(service: str, start: int, end: int, seed: int) -> list[MetricSample]:
    rng = np.random.default_rng(seed)
    out: list[MetricSample] = []
    for i in range(start, end):
        load = 100 + 20 * np.sin(i / 5) + rng.normal(0, 2)  # many cycles per window
        out += _interval(service, i, cpu=0.4 * load + rng.normal(0, 1),
                         lat=50 + 0.1 * load + rng.normal(0, 1), rps=load)
    return out


def test_joint_anomaly_fires_names_the_signal_and_resolves() -> None:
    al = EntityAlerter(METRICS)
    assert al.process(_calm("cart", 0, 500, 1) + _calm("pay", 0, 500, 2)) == []
    # cart's cpu collapses while its traffic stays: each value alone is within range
    broken: list[MetricSample] = []
    for i in range(500, 510):
        broken += _interval("cart", i, cpu=2.0, lat=60.0, rps=120.0)
    fired = al.process(broken + _calm("pay", 500, 510, 3))
    assert [a.labels["service"] for a in fired] == ["cart"]
    alert = fired[0]
    assert alert.labels["alertname"] == "ServiceBehaviourAnomalous"
    assert "cpu 2" in alert.annotations["description"]
    assert 0.5 <= float(alert.annotations["score"]) <= 1.0
    assert 500 * 60.0 <= alert.starts_at < 510 * 60.0
    resolved = al.process(_calm("cart", 510, 560, 4))
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED]
    assert resolved[0].fingerprint == alert.fingerprint


def test_an_entity_is_scored_only_once_every_signal_was_seen() -> None:
    al = EntityAlerter(METRICS)
    partial = [s for s in _calm("cart", 0, 300, 5) if s.name != "rps"]
    assert al.process(partial) == []
    assert al.detector.detector.snapshot()["entities"] == {}
