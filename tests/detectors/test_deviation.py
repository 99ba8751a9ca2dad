"""The deviation tracker: robust z against each series' own history, read by signal kind."""

from __future__ import annotations

import math
import random

from aiops.model import MetricSample
from aiops.model.columns import MetricColumns
from aiops.model.deviation import Deviation, bad_direction, family_of, signal_kind
from detectors.deviation import DeviationTracker


def _feed(tracker: DeviationTracker, rows: list[MetricSample]) -> list[Deviation]:
    out: list[Deviation] = []
    for ts in sorted({r.ts for r in rows}):
        out.extend(tracker.process_columns(
            MetricColumns.from_samples([r for r in rows if r.ts == ts])))
    return out


def _series(name: str, labels: dict[str, str], values: list[float], t0: float = 0.0,
            step: float = 60.0) -> list[MetricSample]:
    return [MetricSample(name, labels, t0 + i * step, v) for i, v in enumerate(values)]


def _noisy(base: float, n: int, seed: int, rel: float = 0.05) -> list[float]:
    rnd = random.Random(seed)
    return [base * (1 + rnd.uniform(-rel, rel)) for _ in range(n)]


def test_a_slow_series_is_reported_with_value_expectation_and_since() -> None:
    t = DeviationTracker()
    values = [*_noisy(0.03, 60, 1), 0.41, 0.43, 0.4]
    devs = _feed(t, _series("latency", {"service": "catalog", "statistic": "p95"}, values))
    assert [d.ts for d in devs] == [3600.0, 3660.0, 3720.0]
    first = devs[0]
    assert (first.node, first.family, first.series, first.kind) == (
        "catalog", "latency", "latency p95", "latency")
    assert first.value == 0.41 and abs(first.expected - 0.03) < 0.002 and first.z > 50
    assert all(d.since == 3600.0 for d in devs)  # the time it moved, kept through the run


def test_harmless_direction_and_gaps_are_not_deviations() -> None:
    t = DeviationTracker()
    faster = [*_noisy(0.5, 60, 2), 0.01, 0.01]  # latency dropping is not a fault
    up = [*_noisy(99.0, 60, 3, rel=0.001), 100.0, 100.0]  # availability rising neither
    rows = (_series("latency", {"service": "a"}, faster)
            + _series("availability", {"service": "b"}, up)
            + [MetricSample("latency", {"service": "a"}, 62 * 60.0, math.nan)])
    assert _feed(t, rows) == []


def test_availability_drop_and_traffic_either_way() -> None:
    t = DeviationTracker()
    rows = (_series("availability", {"service": "pay"}, [100.0] * 60 + [97.0])
            + _series("requests", {"service": "web"}, [*_noisy(1000, 60, 4), 10.0]))
    devs = {d.node: d for d in _feed(t, rows)}
    assert devs["pay"].kind == "errors" and devs["pay"].bad and devs["pay"].z < 0
    assert devs["web"].kind == "traffic" and not devs["web"].bad


def test_a_family_counts_once_per_node_and_at_most_top_n_per_node() -> None:
    t = DeviationTracker(top_n=2)
    rows: list[MetricSample] = []
    for i, stat in enumerate(["p50", "p90", "p95", "p99"]):
        rows += _series("latency", {"service": "db", "statistic": stat, "pod": f"db-{i}"},
                        [*_noisy(0.01, 60, 10 + i), 0.5 + i])
    for j, name in enumerate(["cpu_usage", "errors_total", "memory_bytes"]):
        rows += _series(name, {"service": "db"}, [*_noisy(10, 60, 20 + j), 100.0 + j])
    last = [d for d in _feed(t, rows) if d.ts == 3600.0]
    assert len(last) == 2 and len({d.family for d in last}) == 2
    assert next(d for d in last if d.family == "latency").series.startswith("latency p99")


def test_a_new_series_waits_for_history_and_idle_series_are_forgotten() -> None:
    t = DeviationTracker(min_history=30)
    rows = _series("latency", {"service": "x"}, [1.0] * 20 + [50.0])
    assert _feed(t, rows) == []
    assert len(t) == 1 and t.forget_idle(before=10_000.0) == 1 and len(t) == 0


def test_names_read_as_signal_kinds() -> None:
    assert signal_kind("container_cpu_usage_seconds_total") == "saturation"
    assert signal_kind("http_server_requests_errors") == "errors"
    assert signal_kind("trace_duration_p99") == "latency"
    assert bad_direction("success_rate") == -1 and bad_direction("unknown_gauge") == 0
    assert family_of("lat", {"service": "a", "quantile": "0.99", "route": "/x"}) == \
        "lat{route=/x}"


def test_deviation_round_trips_and_describes_its_ratio() -> None:
    d = Deviation("a", "f", "f p99", "latency", 0.41, 0.03, 40.0, 1.0, 2.0)
    assert Deviation.from_dict(d.to_dict()) == d
    assert round(d.ratio() or 0, 1) == 13.7


def test_series_shaped_batches_keep_each_series_history_apart() -> None:
    """Columns in the series shape (``{"series": [...]}``, as the OTLP stage sends them)
    list each series' points together, so a point's position is not its series' number:
    each series must be judged against its own history only."""
    t = DeviationTracker()
    labels = {"service": "db"}
    rng = random.Random(5)
    out: list[Deviation] = []
    for batch in range(40):
        ts = [batch * 60.0 + 10.0 * k for k in range(6)]
        slow = batch == 39
        latency = [(0.075 if slow else 0.015) * (1 + rng.uniform(-0.05, 0.05)) for _ in ts]
        rate = [rng.uniform(0.8, 1.2) for _ in ts]
        out.extend(t.process_columns(MetricColumns.from_series([
            ("trace_request_rate", labels, ts, rate),
            ("trace_error_ratio", labels, ts, [0.0] * len(ts)),
            ("trace_latency_p95_seconds", labels, ts, latency)])))
    assert len(t) == 3
    assert {d.family for d in out} == {"trace_latency_p95_seconds"}, out
    first = out[0]
    assert first.since == 39 * 60.0 and 0.014 < first.expected < 0.016 and first.value > 0.07


def test_a_move_within_the_series_usual_excursion_is_routine() -> None:
    """A p99 that spikes fivefold every few hours has a narrow bulk (a small MAD) but a wide
    usual excursion: the same fivefold spike is routine there and news on a flat series."""
    t = DeviationTracker(history=240, min_history=24)
    spiky = [0.5 if i % 10 == 0 else v for i, v in enumerate(_noisy(0.1, 200, 30))]
    flat = _noisy(0.1, 200, 31)
    rows = (_series("latency", {"service": "spiky", "statistic": "p99"}, [*spiky, 0.5])
            + _series("latency", {"service": "flat", "statistic": "p99"}, [*flat, 0.5]))
    last = {d.node: d for d in _feed(t, rows) if d.ts == 200 * 60.0}
    assert last["spiky"].z > t.threshold  # far from the bulk by its MAD ...
    assert last["spiky"].routine and last["spiky"].usual >= 0.39  # ... but a usual spike
    assert not last["flat"].routine and last["flat"].usual < 0.01
    assert last["flat"].strength > last["spiky"].strength


def test_a_family_carries_the_largest_move_of_its_statistics() -> None:
    t = DeviationTracker()
    rows = (_series("latency", {"service": "db", "statistic": "Average"},
                    [*_noisy(0.014, 60, 40, rel=0.01), 0.29])
            + _series("latency", {"service": "db", "statistic": "p99"},
                      [*_noisy(0.3, 60, 41, rel=0.3), 9.8]))
    (dev,) = [d for d in _feed(t, rows) if d.ts == 3600.0]
    assert dev.series == "latency Average"  # the strongest by its own spread ...
    assert abs(dev.rise - 9.5) < 0.2 and dev.moved == dev.rise  # ... the p99 moved most
    assert Deviation.from_dict(dev.to_dict()) == dev


def test_a_routine_move_of_one_statistic_is_no_rise_of_its_family() -> None:
    """A p99 that spikes by 0.4 every few hours lends its family no rise when it spikes
    again beside a real move of the p95: the rise is what left its usual excursion."""
    t = DeviationTracker()
    spiky = [0.5 if i % 10 == 0 else v for i, v in enumerate(_noisy(0.1, 200, 42))]
    rows = (_series("latency", {"service": "api", "statistic": "p99"}, [*spiky, 0.5])
            + _series("latency", {"service": "api", "statistic": "p95"},
                      [*_noisy(0.05, 200, 43, rel=0.01), 0.08]))
    (dev,) = [d for d in _feed(t, rows) if d.ts == 200 * 60.0]
    assert abs(dev.rise - 0.03) < 0.005, dev  # the p95's move, not the routine p99 spike
