"""LogAlerter: per-service error-rate alerts."""

from __future__ import annotations

from aiops.model import AlertStatus, LogRecord
from detectors import default_log_alerter


def _quiet(service: str, start: float, end: float) -> list[LogRecord]:
    out = []
    for t in range(int(start), int(end), 5):
        level = "ERROR" if t % 60 == 0 else "info"
        out.append(LogRecord(float(t), service, level, f"request {t} done"))
    return out


def test_error_burst_fires_then_resolves() -> None:
    alerter = default_log_alerter()
    assert alerter.process(_quiet("cart", 0, 1800) + _quiet("pay", 0, 1800)) == []
    burst = [LogRecord(1800.0 + i, "cart", "error", "connection refused to db:5432")
             for i in range(50)]
    fired = alerter.process(burst + _quiet("cart", 1860, 1865))
    assert len(fired) == 1
    alert = fired[0]
    assert alert.labels == {"alertname": "LogErrorRate", "service": "cart",
                            "severity": "warning"}
    assert alert.annotations["value"] == "50"
    assert "connection refused" in alert.annotations["example"]
    assert 0.99 < float(alert.annotations["score"]) <= 1.0
    assert alert.starts_at == 1800.0
    resolved = alerter.process(_quiet("cart", 1865, 2000))
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED]
    assert resolved[0].fingerprint == alert.fingerprint


def test_steady_high_error_rate_is_the_baseline() -> None:
    alerter = default_log_alerter()
    noisy = [LogRecord(float(t), "legacy", "error", "deprecated call") for t in range(0, 3600)]
    assert alerter.process(noisy) == []
