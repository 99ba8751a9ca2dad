"""A CPU burn on an idle node, as node-exporter reports it: tick-quantised counters.

``node_cpu_seconds_total`` counts the kernel's 0.01 s ticks, so at a 250 ms scrape an idle
CPU's ``user`` rate is 0, 0.04 or 0.08 (0, 1 or 2 ticks) and its ``idle`` rate 0.92..1.0:
a series that never moved by less than a tick looks, to a detector, as if it had almost no
spread. The whole path a node's samples take is run (metric semantics, the default
detector and alert policy): the idle node must stay quiet, and a burn must fire within a
few scrapes, stay firing while it runs and resolve after it stops.
"""

from __future__ import annotations

import numpy as np
import pytest

from aiops.model import Alert, MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.semantics import MetricSemantics

SCRAPE_S = 0.25
TICKS = 25  # 0.01 s ticks per CPU per scrape
#: an idle CPU's ticks per scrape by mode (Poisson means); idle takes the rest
IDLE_MODES = {"user": 0.8, "system": 0.5, "iowait": 0.05, "softirq": 0.05}


class Node:
    """Two CPUs' ``node_cpu_seconds_total`` plus the run queue, scraped every 250 ms."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.totals = {(cpu, mode): 1000.0 * (1 + i)
                       for cpu in ("0", "1")
                       for i, mode in enumerate([*IDLE_MODES, "idle"])}
        self.t = 1_700_000_000.0
        self.semantics = MetricSemantics()
        self.alerter = default_metric_alerter()
        self.alerts: list[tuple[float, Alert]] = []

    def scrape(self, burning: bool) -> None:
        samples = []
        for cpu in ("0", "1"):
            busy = {m: (0 if burning and m != "system" else int(self.rng.poisson(lam)))
                    for m, lam in IDLE_MODES.items()}
            if burning:
                busy["user"] = TICKS - busy["system"]
            busy["idle"] = max(0, TICKS - sum(busy.values()))
            for mode, ticks in busy.items():
                self.totals[(cpu, mode)] = round(self.totals[(cpu, mode)] + 0.01 * ticks, 2)
                samples.append(MetricSample("node_cpu_seconds_total",
                                            {"cpu": cpu, "mode": mode, "job": "node"},
                                            self.t, self.totals[(cpu, mode)]))
        running = (5 if burning else 1) + int(self.rng.poisson(0.3))
        samples.append(MetricSample("node_procs_running", {"job": "node"}, self.t,
                                    float(running)))
        cols = MetricColumns.from_samples(samples)
        cols.types.update({s.key: "counter" if s.name.endswith("_total") else "gauge"
                           for s in samples})
        for alert in self.alerter.process_columns(self.semantics.apply(cols)):
            self.alerts.append((self.t, alert))
        self.t += SCRAPE_S

    def run(self, seconds: float, burning: bool = False) -> list[tuple[float, Alert]]:
        start = len(self.alerts)
        for _ in range(int(seconds / SCRAPE_S)):
            self.scrape(burning)
        return self.alerts[start:]


def _cpu_firing(alerts: list[tuple[float, Alert]]) -> set[str]:
    firing: set[str] = set()
    for _, a in alerts:
        if a.labels.get("metric") != "node_cpu_seconds_total":
            continue
        if a.status.value == "firing":
            firing.add(a.fingerprint)
        else:
            firing.discard(a.fingerprint)
    return firing


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_idle_node_is_quiet_and_a_cpu_burn_fires_stays_and_resolves(seed: int) -> None:
    node = Node(seed)
    quiet = node.run(240.0)
    assert quiet == [], [(a.labels, a.annotations["value"]) for _, a in quiet]

    burn_from = node.t
    during = node.run(30.0, burning=True)
    fired = _cpu_firing(during)
    assert fired, "the burn raised nothing on the CPU counters"
    first = min(t for t, a in during if a.status.value == "firing"
                and a.labels["metric"] == "node_cpu_seconds_total")
    assert first - burn_from <= 4 * SCRAPE_S  # within a few scrapes
    assert not [a for _, a in during if a.status.value == "resolved"], "resolved mid-burn"

    after = node.run(40.0)
    assert _cpu_firing(during + after) == set(), "still firing 40 s after the burn"
    refired = [a for _, a in after if a.status.value == "firing"]
    assert refired == [], "the return to idle raised an alert"
