"""Signals and context: an exporter's bookkeeping of the kernel's or its runtime's own work
never raises an alert by itself, a signal beside it does (``detectors.catalog``)."""

from __future__ import annotations

import numpy as np

from aiops.model import MetricSample
from detectors import AlertPolicy, MetricAlerter, RollingZScore
from detectors.catalog import signal


def _burst(alerter: MetricAlerter, names: list[str]) -> set[str]:
    """A calm history, then every series jumps to ten times its level for 10 points."""
    rng = np.random.default_rng(0)
    fired: set[str] = set()
    for t in range(260):
        level = 10.0 if t >= 250 else 1.0
        batch = [MetricSample(n, {"job": "node"}, float(t), 1e6 * (level + rng.normal(0, 0.01)))
                 for n in names]
        fired.update(a.labels["metric"] for a in alerter.process(batch))
    return fired


NAMES = ["node_memory_Dirty_bytes", "node_sockstat_TCP_tw", "go_memstats_stack_inuse_bytes",
         "node_netstat_Tcp_InSegs", "node_memory_MemAvailable_bytes", "node_load1",
         "node_netstat_TcpExt_ListenOverflows", "app_queue_depth"]


def test_only_signals_raise_alerts_by_default() -> None:
    alerter = MetricAlerter(RollingZScore(), AlertPolicy(for_count=2, resolve_count=2))
    assert _burst(alerter, NAMES) == {"node_memory_MemAvailable_bytes", "node_load1",
                                      "node_netstat_TcpExt_ListenOverflows", "app_queue_depth"}


def test_every_series_can_alert_when_asked() -> None:
    alerter = MetricAlerter(RollingZScore(), AlertPolicy(for_count=2, resolve_count=2),
                            alerts_on=None)
    assert _burst(alerter, NAMES) == set(NAMES)


def test_the_catalog_sorts_only_the_namespaces_it_knows() -> None:
    assert all(signal(n) for n in (
        "node_hwmon_temp_celsius", "mysql_global_status_threads", "node_filesystem_avail_bytes",
        "go_goroutines", "node_cpu_seconds_total", "node_pressure_io_waiting_seconds_total"))
    assert not any(signal(n) for n in (
        "go_memstats_other_sys_bytes", "node_memory_Writeback_bytes", "node_sockstat_sockets_used",
        "python_gc_collections_total", "process_virtual_memory_bytes",
        "node_disk_flush_requests_total"))
