"""EntityAlerter: one vector per service and interval, each signal judged by its history."""

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
    assert len(al.detector) == 0  # nothing was scored, so nothing was learnt


def test_the_default_entity_detector_judges_each_signal_by_its_own_history() -> None:
    from detectors.metricwise import MetricwiseDetector

    rng = np.random.default_rng(3)
    x = np.column_stack([rng.normal(50, 2, 800), rng.normal(0.1, 0.001, 800)])
    x[700:703, 1] = 0.12  # small in absolute terms, 20 sigma for this signal
    det = MetricwiseDetector()
    s = det.score_learn_many(["svc"] * 800, np.arange(800) * 60.0, x)
    assert s[700:703].max() > 0.5
    assert np.percentile(s[100:700], 99) < 0.5
    # one calm signal among many does not turn into an alarm by sheer number of signals
    wide = MetricwiseDetector()
    calm = rng.normal(0, 1, (800, 19))
    w = wide.score_learn_many(["svc"] * 800, np.arange(800) * 60.0, calm)
    assert (w[100:] >= 0.5).mean() < 0.01


def _fault(service: str, start: int, end: int, factor: float, seed: int
           ) -> list[MetricSample]:
    """cpu and latency grow by ``factor`` while traffic stays as it was."""
    rng = np.random.default_rng(seed)
    out: list[MetricSample] = []
    for i in range(start, end):
        load = 100 + 20 * np.sin(i / 5) + rng.normal(0, 2)
        out += _interval(service, i, cpu=0.4 * load * factor + rng.normal(0, 1),
                         lat=(50 + 0.1 * load) * factor, rps=load)
    return out


def test_a_larger_second_fault_while_firing_is_raised_as_a_new_event() -> None:
    al = EntityAlerter(METRICS)
    assert al.process(_calm("cart", 0, 500, 1)) == []
    first = al.process(_fault("cart", 500, 508, 1.2, 7))
    assert [a.labels.get("escalation") for a in first] == [None]
    assert first[0].labels["severity"] == "warning"
    second = al.process(_fault("cart", 508, 516, 3.0, 8))
    assert len(second) == 1
    esc = second[0]
    assert esc.labels["escalation"] == "1" and esc.labels["severity"] == "critical"
    assert esc.fingerprint != first[0].fingerprint
    assert esc.starts_at >= 508 * 60.0
    assert "further" in esc.annotations["summary"]
    # both end together when the service is back to normal
    ended = al.process(_calm("cart", 516, 580, 4))
    assert {a.fingerprint for a in ended} == {first[0].fingerprint, esc.fingerprint}
    assert all(a.status is AlertStatus.RESOLVED for a in ended)


def test_a_steady_firing_entity_is_not_raised_again() -> None:
    al = EntityAlerter(METRICS)
    assert al.process(_calm("cart", 0, 500, 1)) == []
    fired = al.process(_fault("cart", 500, 508, 1.2, 7) + _fault("cart", 508, 516, 1.2, 8))
    assert [a.status for a in fired] == [AlertStatus.FIRING]
    assert "escalation" not in fired[0].labels
