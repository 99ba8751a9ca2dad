"""Drain3 template mining per service and per-template rate baselines."""

from __future__ import annotations

from aiops.model import AlertStatus, LogRecord
from detectors import TemplateRates


def _calm(service: str, start: int, end: int) -> list[LogRecord]:
    out = []
    for t in range(start, end, 2):
        out.append(LogRecord(float(t), service, "info",
                             f"GET /api/items/{t % 97} 200 in {t % 13} ms"))
        if t % 20 == 0:
            out.append(LogRecord(float(t), service, "warning",
                                 f"cache miss for key user:{t} after {t % 5} retries"))
    return out


def test_templates_are_mined_with_parameters_masked() -> None:
    tr = TemplateRates(warmup_records=10_000)
    tr.process(_calm("cart", 0, 600))
    templates = sorted(tr.templates("cart").values())
    assert len(templates) == 2
    assert all("<NUM>" in t for t in templates)


def test_new_error_template_fires_with_template_and_example_then_resolves() -> None:
    tr = TemplateRates(bucket_seconds=60, warmup_records=200, warmup_buckets=5,
                       quiet_buckets=3)
    assert tr.process(_calm("cart", 0, 1800)) == []
    line = "payment gateway 10.1.2.3:443 refused connection (attempt 3)"
    fired = tr.process([LogRecord(1800.5, "cart", "ERROR", line)])
    tr.process(_calm("cart", 1801, 1860))  # the service goes on with its usual lines
    assert len(fired) == 1
    alert = fired[0]
    assert alert.labels["alertname"] == "LogNewErrorTemplate"
    assert alert.labels["service"] == "cart"
    assert alert.annotations["example"] == line
    assert "<IP>" in alert.annotations["template"]
    # the same message again is not new
    assert tr.process([LogRecord(1801.0, "cart", "error",
                                 "payment gateway 10.1.2.4:443 refused connection "
                                 "(attempt 4)")]) == []
    # a new template at info level is not an alert
    assert tr.process([LogRecord(1802.0, "cart", "info", "feature flag beta enabled")]) == []
    resolved = tr.process(_calm("cart", 1860, 2400))
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED]
    assert resolved[0].fingerprint == alert.fingerprint


def test_known_template_surge_fires_for_that_template_only() -> None:
    tr = TemplateRates(bucket_seconds=60, warmup_records=100, warmup_buckets=5)
    tr.process(_calm("cart", 0, 1800) + _calm("pay", 0, 1800))
    surge = [LogRecord(1800.0 + i * 0.1, "cart", "warning",
                       f"cache miss for key user:{i} after {i % 5} retries")
             for i in range(400)]
    out = tr.process(sorted([*surge, *_calm("cart", 1800, 1866)], key=lambda r: r.ts))
    assert [a.labels["alertname"] for a in out] == ["LogTemplateSurge"]
    assert "cache miss" in out[0].annotations["template"]
    assert out[0].service == "cart"
    assert float(out[0].annotations["value"]) >= 400


def test_snapshot_restores_templates_and_baselines() -> None:
    tr = TemplateRates(warmup_records=100, warmup_buckets=5)
    tr.process(_calm("cart", 0, 1800))
    moved = TemplateRates(warmup_records=100, warmup_buckets=5)
    moved.restore(tr.snapshot())
    assert moved.templates("cart") == tr.templates("cart")
    line = [LogRecord(1800.5, "cart", "error", "disk /dev/sda1 full")]
    assert [a.fingerprint for a in moved.process(line)] == [a.fingerprint
                                                          for a in tr.process(line)]


def test_steady_template_that_stops_fires_a_drop_and_resolves_when_back() -> None:
    tr = TemplateRates(bucket_seconds=60, warmup_records=100, warmup_buckets=5, min_count=10)
    assert tr.process(_calm("cart", 0, 1800)) == []
    # the request line (30 a minute) stops; the service still logs its cache warnings
    only_warnings = [r for r in _calm("cart", 1800, 2100) if r.level == "warning"]
    out = tr.process(only_warnings)
    assert [a.labels["alertname"] for a in out] == ["LogTemplateDrop"]
    assert "GET" in out[0].annotations["template"]
    assert out[0].annotations["value"] == "0"
    back = tr.process(_calm("cart", 2100, 2400))
    assert [a.status for a in back] == [AlertStatus.RESOLVED]
    assert back[0].fingerprint == out[0].fingerprint


def test_a_lasting_new_rate_becomes_the_baseline() -> None:
    tr = TemplateRates(bucket_seconds=60, warmup_records=100, warmup_buckets=5,
                       rebaseline_buckets=10)
    tr.process(_calm("cart", 0, 1800))
    only_warnings = [r for r in _calm("cart", 1800, 1800 + 60 * 60) if r.level == "warning"]
    out = tr.process(only_warnings)
    assert [a.status for a in out] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
