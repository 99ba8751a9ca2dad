"""Metric semantics: counters as rates, one latency signal per family, gaps/resets quiet."""

from __future__ import annotations

import math
import pickle

import numpy as np

from aiops.model import MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.semantics import MetricSemantics


def _cols(samples: list[MetricSample], types: dict[str, str] | None = None) -> MetricColumns:
    cols = MetricColumns.from_samples(samples)
    cols.types.update(types or {})
    return cols


def _signals(sem: MetricSemantics, samples: list[MetricSample],
             types: dict[str, str] | None = None) -> dict[str, list[tuple[float, float]]]:
    out = sem.apply(_cols(samples, types))
    found: dict[str, list[tuple[float, float]]] = {}
    for i in range(len(out)):
        found.setdefault(out.keys[i], []).append((float(out.ts[i]), float(out.values[i])))
    return found


def test_counter_becomes_a_per_second_rate_and_a_reset_is_not_negative() -> None:
    sem = MetricSemantics(settle_points=1)
    lab = {"job": "api"}
    values = [0, 10, 20, 30, 40, 5, 15, 25]  # the target restarted after 40
    got = _signals(sem, [MetricSample("http_requests_total", lab, 2.0 * t, float(v))
                         for t, v in enumerate(values)])
    rates = got['http_requests_total{job="api"}']
    assert all(r == 5.0 for _, r in rates)
    assert [t for t, _ in rates] == [4.0, 6.0, 8.0, 14.0]  # first point, reset, settle skipped


def test_gap_restarts_the_rate_and_the_next_points_settle() -> None:
    sem = MetricSemantics(settle_points=2)
    lab = {"job": "node"}
    before = [MetricSample("node_cpu_seconds_total", lab, float(t), 0.5 * t) for t in range(20)]
    after = [MetricSample("node_cpu_seconds_total", lab, float(t), 0.5 * t + 90.0)
             for t in range(140, 150)]  # 2 minutes without a scrape
    _signals(sem, before)
    short = [MetricSample("node_cpu_seconds_total", lab, float(t), 0.5 * t)
             for t in (24, 25)]  # a few scrapes lost: the rate restarts, nothing relearnt
    assert _signals(sem, short) == {} and sem.restarted == []
    got = _signals(sem, after)['node_cpu_seconds_total{job="node"}']
    assert sem.restarted == []  # an outage, but the counter kept counting: same source
    assert [t for t, _ in got] == [float(t) for t in range(143, 150)]
    assert all(r == 0.5 for _, r in got)


def test_after_an_outage_only_the_series_of_a_restarted_source_are_learnt_afresh() -> None:
    """node-exporter restarted during a gap: its own process's counters start from zero,
    the machine's kept counting; ``process_*`` is learnt afresh, ``node_*`` is not."""
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "node", "instance": "h:9100"}

    def scrape(t: float, restarted: bool) -> list[MetricSample]:
        own = 0.01 * (t - 149.0) if restarted else 0.01 * t
        return [MetricSample("node_cpu_seconds_total", lab, t, 0.5 * t),
                MetricSample("node_load1", lab, t, 0.2),
                MetricSample("process_resident_memory_bytes", lab, t, 2e7),
                MetricSample("process_cpu_seconds_total", lab, t, own)]

    for t in range(30):
        _signals(sem, scrape(float(t), False))
    back = scrape(150.0, True)
    _signals(sem, [back[2]])  # remote_write may split one scrape: the gauge comes first
    assert sem.restarted == []
    _signals(sem, [back[0], back[1], back[3]])
    assert set(sem.restarted) == {'process_resident_memory_bytes{instance="h:9100",job="node"}',
                                  'process_cpu_seconds_total{instance="h:9100",job="node"}'}


def test_stale_marker_and_nan_reset_the_series_without_a_signal() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "a"}
    pts = [MetricSample("temp", lab, float(t), 20.0) for t in range(5)]
    pts.append(MetricSample("temp", lab, 5.0, math.nan))
    pts += [MetricSample("temp", lab, float(t), 21.0) for t in range(6, 9)]
    got = _signals(sem, pts, types={'temp{job="a"}': "gauge"})['temp{job="a"}']
    assert [t for t, _ in got] == [1.0, 2.0, 3.0, 4.0, 7.0, 8.0]
    assert sem.restarted == []  # back after a stale marker, no sign of a new process


def test_histogram_family_is_one_p95_signal_from_bucket_rates() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "api", "route": "/pay"}
    bounds = ["0.1", "0.5", "1", "+Inf"]
    samples = []
    for t in range(6):
        # every second: 50 fast, 45 medium, 5 slow requests -> p95 ends in the 0.5 bucket
        counts = [50 * t, 95 * t, 100 * t, 100 * t]
        for le, c in zip(bounds, counts, strict=True):
            samples.append(MetricSample("rpc_seconds_bucket", {**lab, "le": le}, float(t), c))
        samples.append(MetricSample("rpc_seconds_sum", lab, float(t), 20.0 * t))
        samples.append(MetricSample("rpc_seconds_count", lab, float(t), 100.0 * t))
    got = _signals(sem, samples)
    assert list(got) == ['rpc_seconds{job="api",route="/pay"}']
    values = [v for _, v in got['rpc_seconds{job="api",route="/pay"}']]
    assert values and all(math.isclose(v, 0.5) for v in values)


def test_summary_quantiles_fold_into_the_highest() -> None:
    sem = MetricSemantics()
    lab = {"job": "api"}
    samples = []
    for t in range(10):
        for q, v in (("0.5", 0.1), ("0.9", 0.3), ("0.99", 0.8)):
            samples.append(MetricSample("rpc_latency", {**lab, "quantile": q}, float(t), v))
        for name, v in (("latency_p90", 30.0), ("latency_p99", 80.0)):
            samples.append(MetricSample(name, lab, float(t), v))
    got = _signals(sem, samples)
    assert sorted(got) == ['latency{job="api"}', 'rpc_latency{job="api"}']
    assert {v for _, v in got['rpc_latency{job="api"}']} == {0.8}
    assert {v for _, v in got['latency{job="api"}']} == {80.0}


def test_sum_and_count_alone_become_the_mean() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "db"}
    samples = []
    for t in range(5):
        samples.append(MetricSample("query_seconds_sum", lab, float(t), 2.0 * t))
        samples.append(MetricSample("query_seconds_count", lab, float(t), 10.0 * t))
    got = _signals(sem, samples)
    assert list(got) == ['query_seconds{job="db"}']
    assert {v for _, v in got['query_seconds{job="db"}']} == {0.2}


def test_bookkeeping_series_are_not_scored_and_declared_types_win() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "node"}
    names = ["up", "scrape_duration_seconds", "process_start_time_seconds",
             "node_boot_time_seconds", "node_uname_info", "jobs_count"]
    samples = [MetricSample(n, lab, float(t), 5.0 + t) for t in range(4) for n in names]
    got = _signals(sem, samples, types={'jobs_count{job="node"}': "gauge"})
    assert list(got) == ['jobs_count{job="node"}']  # a gauge despite the _count name
    assert [v for _, v in got['jobs_count{job="node"}']] == [6.0, 7.0, 8.0]
    sem2 = MetricSemantics(settle_points=0)
    got2 = _signals(sem2, [MetricSample("bytes_read", lab, float(t), 100.0 * t)
                           for t in range(4)], types={'bytes_read{job="node"}': "counter"})
    assert {v for _, v in got2['bytes_read{job="node"}']} == {100.0}


def test_untyped_series_are_told_apart_by_how_they_move() -> None:
    sem = MetricSemantics(settle_points=0, infer_points=10)
    lab = {"job": "node"}
    rng = np.random.default_rng(0)
    pages = np.cumsum(rng.integers(0, 50, 40)).astype(float)  # node_vmstat_pgpgin
    conns = 100 + rng.integers(-5, 6, 40).astype(float)       # node_netstat_Tcp_CurrEstab
    got = _signals(sem, [s for t in range(40) for s in (
        MetricSample("node_vmstat_pgpgin", lab, float(t), float(pages[t])),
        MetricSample("node_netstat_Tcp_CurrEstab", lab, float(t), float(conns[t])))])
    rates = got['node_vmstat_pgpgin{job="node"}']
    assert [v for _, v in rates] == np.diff(pages)[-len(rates):].tolist()
    levels = got['node_netstat_Tcp_CurrEstab{job="node"}']
    assert [v for _, v in levels] == conns[-len(levels):].tolist()
    assert len(rates) >= 25 and len(levels) >= 25


def test_an_inferred_counter_that_falls_is_a_gauge_and_a_reset_is_a_reset() -> None:
    sem = MetricSemantics(settle_points=0, infer_points=5)
    lab = {"job": "node"}
    key = 'node_memory_Dirty_bytes{job="node"}'
    rising = [MetricSample("node_memory_Dirty_bytes", lab, float(t), 100.0 + t)
              for t in range(10)]
    assert {v for _, v in _signals(sem, rising)[key]} == {1.0}  # taken for a counter
    fell = _signals(sem, [MetricSample("node_memory_Dirty_bytes", lab, 10.0, 80.0)])
    assert fell == {} and sem.restarted == [key]  # no rate, no reset: learnt afresh
    later = _signals(sem, [MetricSample("node_memory_Dirty_bytes", lab, 11.0, 85.0)])
    assert later == {key: [(11.0, 85.0)]}  # scored as a level from now on
    pages = [MetricSample("pgin", lab, float(t), 10.0 * t) for t in range(1, 10)]
    _signals(sem, pages)
    assert _signals(sem, [MetricSample("pgin", lab, 10.0, 3.0)]) == {}  # a reset ...
    assert _signals(sem, [MetricSample("pgin", lab, 11.0, 13.0)]) == {
        'pgin{job="node"}': [(11.0, 10.0)]}  # ... and still a counter


def test_semantics_state_pickles_and_resumes() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "a"}
    _signals(sem, [MetricSample("x_total", lab, float(t), 3.0 * t) for t in range(5)])
    copy = pickle.loads(pickle.dumps(sem))
    got = _signals(copy, [MetricSample("x_total", lab, 5.0, 15.0)])
    assert got == {'x_total{job="a"}': [(5.0, 3.0)]}


def test_counters_after_a_two_minute_gap_raise_nothing() -> None:
    """The issue's case: node-exporter counters scored raw fired 15-24 alerts after a gap.
    Through the semantics, a gap with a target restart (counters reset) raises nothing."""
    rng = np.random.default_rng(3)
    sem = MetricSemantics()
    alerter = default_metric_alerter()
    counters = {f"node_network_receive_bytes_total{{device=\"eth{i}\"}}": 1000.0 * (i + 1)
                for i in range(10)}
    totals = dict.fromkeys(counters, 0.0)

    def scrape(t: float, restart: bool = False) -> list[MetricSample]:
        out = []
        for i, key in enumerate(counters):
            if restart:
                totals[key] = 0.0
            totals[key] += counters[key] * (1 + rng.normal(0, 0.05))
            out.append(MetricSample("node_network_receive_bytes_total",
                                    {"job": "node", "device": f"eth{i}"}, t, totals[key]))
        return out

    alerts = []
    for t in range(400):
        alerts += alerter.process_columns(sem.apply(MetricColumns.from_samples(scrape(t))))
    assert alerts == []
    for k, t in enumerate(range(520, 700)):  # 2 minutes without scrapes, then a restart
        alerts += alerter.process_columns(sem.apply(MetricColumns.from_samples(
            scrape(float(t), restart=k == 0))))
    assert alerts == []
    # ... while a real change of rate still alerts
    for key in counters:
        counters[key] *= 8
    for t in range(700, 720):
        alerts += alerter.process_columns(sem.apply(MetricColumns.from_samples(scrape(t))))
    assert len(alerts) >= 1


def _resolution(out: MetricColumns) -> dict[str, tuple[float, bool]]:
    assert out.resolution is not None and out.counting is not None
    return {key: (round(float(out.resolution[s]), 9), bool(out.counting[s]))
            for key, s in zip(out.keys, out.series.tolist(), strict=True)}


def test_each_signal_carries_the_quantum_it_moves_in() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "node"}
    rng = np.random.default_rng(0)
    cpu = np.round(100.0 + np.cumsum(0.01 * rng.poisson(1.0, 40)), 2)  # 0.01 s ticks
    samples = []
    for t in range(40):
        ts = 0.25 * t
        samples += [MetricSample("node_cpu_seconds_total", lab, ts, float(cpu[t])),
                    MetricSample("node_procs_running", lab, ts, float(1 + t % 3)),
                    MetricSample("node_memory_free_bytes", lab, ts, 4096.0 * (1000 + t % 4)),
                    MetricSample("node_sockstat_TCP_orphan", lab, ts, 0.0),
                    # float arithmetic: a total of 0.1 s steps is not quantised at 1e-17
                    MetricSample("busy_seconds", lab, ts, 0.1 * t + 0.2)]
    out = sem.apply(_cols(samples, {'node_procs_running{job="node"}': "gauge",
                                    'node_memory_free_bytes{job="node"}': "gauge",
                                    'node_sockstat_TCP_orphan{job="node"}': "gauge",
                                    'busy_seconds{job="node"}': "gauge"}))
    res = _resolution(out)
    assert res['node_cpu_seconds_total{job="node"}'] == (0.04, True)  # 0.01 s per 0.25 s
    assert res['node_procs_running{job="node"}'] == (1.0, False)
    assert res['node_memory_free_bytes{job="node"}'] == (4096.0, False)
    assert math.isnan(res['node_sockstat_TCP_orphan{job="node"}'][0])  # never moved
    assert res['busy_seconds{job="node"}'][0] >= 0.09


def test_the_scrape_bookkeeping_is_not_scored() -> None:
    sem = MetricSemantics(settle_points=0)
    lab = {"job": "node"}
    names = ["node_scrape_collector_duration_seconds", "promhttp_metric_handler_requests_total",
             "scrape_duration_seconds", "up", "node_load1"]
    got = _signals(sem, [MetricSample(n, lab, float(t), float(t % 3)) for t in range(20)
                         for n in names])
    assert set(got) == {'node_load1{job="node"}'}


def test_a_flat_untyped_series_that_starts_rising_is_learnt_afresh_as_a_rate() -> None:
    """A kernel counter that did not move for long enough is scored as a flat level; its
    first rise makes it a counter, and a rate is not judged against the level's history."""
    sem = MetricSemantics(settle_points=1, infer_points=2)
    lab = {"job": "node"}
    key = 'node_vmstat_pgmajfault{job="node"}'
    flat = _signals(sem, [MetricSample("node_vmstat_pgmajfault", lab, float(t), 1244.0)
                          for t in range(30)])
    assert {v for _, v in flat[key]} == {1244.0}  # a level
    rose = _signals(sem, [MetricSample("node_vmstat_pgmajfault", lab, 30.0, 1250.0)])
    assert rose == {} and sem.restarted == [key]
    later = _signals(sem, [MetricSample("node_vmstat_pgmajfault", lab, float(t), 1250.0 + t)
                           for t in range(31, 35)])
    assert later[key] == [(float(t), 1.0) for t in range(32, 35)]  # a rate, after settling
