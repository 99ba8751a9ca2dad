"""MetricAlerter: the detect stage's boundary from samples to Alertmanager-shaped alerts."""

from __future__ import annotations

import numpy as np

from aiops.model import AlertStatus, MetricSample, alert_fingerprint
from detectors import AlertPolicy, MetricAlerter, RollingZScore, default_metric_alerter


def _series(name: str, labels: dict[str, str], values: list[float], t0: float = 0.0,
            step: float = 10.0) -> list[MetricSample]:
    return [MetricSample(name, labels, t0 + i * step, v) for i, v in enumerate(values)]


def _noise(n: int, seed: int = 1, level: float = 100.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return (level + rng.normal(0, 1.0, n)).tolist()


def test_spike_fires_once_with_annotations_then_resolves_with_same_fingerprint() -> None:
    alerter = default_metric_alerter()
    labels = {"service": "cart", "instance": "i-1"}
    calm = _series("latency_ms", labels, _noise(300))
    assert alerter.process(calm) == []
    spike = _series("latency_ms", labels, [160.0] * 4, t0=3000.0)
    fired = alerter.process(spike)
    assert len(fired) == 1
    alert = fired[0]
    assert alert.status == AlertStatus.FIRING
    assert alert.labels["alertname"] == "MetricAnomaly"
    assert alert.labels["service"] == "cart"
    assert alert.labels["instance"] == "i-1"
    assert alert.labels["metric"] == "latency_ms"
    assert alert.labels["severity"] in {"warning", "critical"}
    assert alert.starts_at == 3000.0  # onset, not the point the for: count completed
    ann = alert.annotations
    assert 0.5 <= float(ann["score"]) < 1.0  # a likelihood tail far below 1e-5
    assert float(ann["expected_low"]) < 100.0 < float(ann["expected_high"]) < 160.0
    assert float(ann["value"]) == 160.0
    assert ann["metric"] == "latency_ms"
    assert "160" in ann["description"]
    assert alert.fingerprint == alert_fingerprint(alert.labels)

    back = _series("latency_ms", labels, _noise(20, seed=2), t0=3040.0)
    resolved = alerter.process(back)
    assert len(resolved) == 1
    res = resolved[0]
    assert res.status == AlertStatus.RESOLVED
    assert res.fingerprint == alert.fingerprint
    assert res.starts_at == alert.starts_at
    assert res.ends_at is not None and res.ends_at >= 3040.0


def test_for_count_needs_consecutive_high_points() -> None:
    alerter = MetricAlerter(RollingZScore(), AlertPolicy(for_count=3, resolve_count=1))
    labels = {"service": "api"}
    alerter.process(_series("rps", labels, _noise(200)))
    # two isolated spikes separated by normal points never reach three in a row
    blips = [160.0, 100.0, 160.0, 100.0, 160.0, 100.0]
    assert alerter.process(_series("rps", labels, blips, t0=2000.0)) == []


def test_series_are_independent_and_batch_order_is_event_order() -> None:
    alerter = MetricAlerter(RollingZScore(), AlertPolicy(for_count=1, resolve_count=1))
    a = _series("cpu", {"service": "a"}, _noise(200, seed=3))
    b = _series("cpu", {"service": "b"}, _noise(200, seed=4))
    mixed = [s for pair in zip(a, b, strict=True) for s in pair]
    assert alerter.process(mixed) == []
    out = alerter.process([MetricSample("cpu", {"service": "b"}, 2000.0, 150.0),
                           MetricSample("cpu", {"service": "a"}, 2000.0, 100.2)])
    assert [x.service for x in out] == ["b"]
    assert {x.service for x in alerter.firing} == {"b"}


def test_level_shift_stays_firing_until_the_series_returns() -> None:
    """The detector may rebaseline, but the alert is judged against the range held from
    before the shift: it resolves only when the series is back there."""
    alerter = MetricAlerter(RollingZScore(rebaseline_after=20),
                            AlertPolicy(for_count=1, resolve_count=3))
    labels = {"service": "db"}
    alerter.process(_series("conns", labels, _noise(300, seed=5)))
    shifted = _series("conns", labels, _noise(200, seed=6, level=150.0), t0=5000.0)
    out = alerter.process(shifted)
    assert [x.status for x in out] == [AlertStatus.FIRING]
    back = _series("conns", labels, _noise(10, seed=7), t0=7000.0)
    assert [x.status for x in alerter.process(back)] == [AlertStatus.RESOLVED]


def test_nan_and_empty_input_do_not_alert() -> None:
    alerter = default_metric_alerter()
    assert alerter.process([]) == []
    labels = {"service": "x"}
    alerter.process(_series("m", labels, _noise(100)))
    assert alerter.process(_series("m", labels, [float("nan"), float("inf")], t0=5000)) == []


def test_vanished_series_are_forgotten_and_their_alerts_resolved() -> None:
    alerter = MetricAlerter(RollingZScore(), AlertPolicy(for_count=1, resolve_count=1))
    gone = {"service": "cart", "pod": "cart-7f9"}
    stays = {"service": "cart", "pod": "cart-8a1"}
    alerter.process(_series("cpu", gone, _noise(200)) + _series("cpu", stays, _noise(200)))
    fired = alerter.process([MetricSample("cpu", gone, 2000.0, 180.0)])
    assert len(fired) == 1
    alerter.process(_series("cpu", stays, _noise(100, seed=9), t0=2010.0))
    out = alerter.expire(now=3000.0, idle_seconds=600.0)
    assert [(a.status, a.fingerprint) for a in out] == [(AlertStatus.RESOLVED,
                                                        fired[0].fingerprint)]
    assert out[0].ends_at == 3000.0
    assert len(alerter.detector) == 1
    assert alerter.firing == []
