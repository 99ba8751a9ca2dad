"""What the detector does in live operation, before and after metric semantics, held
baselines and checkpoints (issue 10's sustained-fault figures), in one run:

* a sustained fault: an error ratio stuck at 40 % for 30 minutes (1 s and 5 s scrape): how
  long the alert stays firing, and whether the return raises a new alert;
* counters after a 2-minute scrape gap with a target restart (counters reset): alerts on 50
  node-exporter-like counters, scored raw (before) and as rates (after);
* a spike 30 s after a detect-stage restart: raised with the checkpoint, and without;
* a CPU burn on an idle node as node-exporter reports it (``node_cpu_seconds_total`` in
  0.01 s ticks, scraped every 250 ms, two CPUs): alerts in 4 idle minutes, how soon the
  burn (30 s) fires, whether it stays firing and how soon it resolves, over five seeds;
* the checkpoint: pickled bytes per series and save time, 10,000 warmed series.

    python benchmarks/detection_live.py
"""

from __future__ import annotations

import pickle
import time

import numpy as np

from aiops.model import MetricSample
from aiops.model.columns import MetricColumns
from detectors import default_metric_alerter
from detectors.semantics import MetricSemantics


def sustained(step: float, seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    alerter = default_metric_alerter()
    lab = {"service": "checkout"}
    events: list[tuple[float, str]] = []
    t = 0.0

    def feed(values: np.ndarray) -> None:
        nonlocal t
        for v in values.tolist():
            events.extend((t, a.status.value) for a in
                          alerter.process([MetricSample("error_ratio", lab, t, v)]))
            t += step

    feed(np.clip(0.02 + rng.normal(0, 0.005, 600), 0, 1))
    start = t
    feed(np.clip(0.40 + rng.normal(0, 0.01, int(1800 / step)), 0, 1))
    end = t
    feed(np.clip(0.02 + rng.normal(0, 0.005, int(300 / step)), 0, 1))
    during = [e for e in events if start <= e[0] < end]
    after = [e for e in events if e[0] >= end]
    resolved = [x - start for x, s in during if s == "resolved"]
    return {"fired_after_s": next((x - start for x, s in during if s == "firing"), None),
            "resolved_during_fault_after_s": resolved[0] if resolved else None,
            "events_after_return": [s for _, s in after]}


def gap(semantics: bool, seed: int = 3) -> int:
    rng = np.random.default_rng(seed)
    sem = MetricSemantics()
    alerter = default_metric_alerter()
    rates = 1000.0 * (1 + np.arange(50))
    totals = np.zeros(50)
    alerts = 0

    def scrape(t: float) -> None:
        nonlocal totals, alerts
        totals = totals + rates * (1 + rng.normal(0, 0.05, 50))
        cols = MetricColumns.from_samples([
            MetricSample("node_network_receive_bytes_total", {"device": f"eth{i}"}, t,
                         float(totals[i])) for i in range(50)])
        alerts += len(alerter.process_columns(sem.apply(cols) if semantics else cols))

    for t in range(400):
        scrape(float(t))
    before = alerts
    totals = np.zeros(50)  # the exporter restarted during the gap
    for t in range(520, 700):
        scrape(float(t))
    return alerts - before


def restart_spike(checkpoint: bool, seed: int = 5) -> int:
    rng = np.random.default_rng(seed)
    lab = {"service": "cart"}

    def batch(t: int, v: float) -> MetricColumns:
        return MetricColumns.from_samples([MetricSample("latency_ms", lab, float(t), v)])

    alerter = default_metric_alerter()
    for t in range(400):
        alerter.process_columns(batch(t, 50 + rng.normal(0, 1)))
    restarted = default_metric_alerter()
    if checkpoint:
        restarted.import_state(pickle.loads(pickle.dumps(alerter.export_state())))
    fired = 0
    for t in range(400, 440):
        v = 400.0 if 430 <= t < 434 else 50 + rng.normal(0, 1)
        fired += sum(a.status.value == "firing" for a in restarted.process_columns(batch(t, v)))
    return fired


def cpu_burn(seed: int) -> dict[str, object]:
    """Idle (Poisson ticks per mode), then every CPU busy for 30 s, then idle 40 s."""
    rng = np.random.default_rng(seed)
    sem = MetricSemantics()
    alerter = default_metric_alerter()
    idle_ticks = {"user": 0.8, "system": 0.5, "iowait": 0.05, "softirq": 0.05}
    totals = {(c, m): 1000.0 for c in "01" for m in (*idle_ticks, "idle")}
    events: list[tuple[float, str, str]] = []
    t = 0.0

    def run(seconds: float, burning: bool) -> None:
        nonlocal t
        for _ in range(int(seconds / 0.25)):
            samples = []
            for cpu in "01":
                ticks = {m: 0 if burning else int(rng.poisson(lam))
                         for m, lam in idle_ticks.items()}
                ticks["user"] = 25 if burning else ticks["user"]
                ticks["idle"] = max(0, 25 - sum(ticks.values()))
                for mode, n in ticks.items():
                    totals[(cpu, mode)] = round(totals[(cpu, mode)] + 0.01 * n, 2)
                    samples.append(MetricSample("node_cpu_seconds_total",
                                                {"cpu": cpu, "mode": mode}, t,
                                                totals[(cpu, mode)]))
            out = alerter.process_columns(sem.apply(MetricColumns.from_samples(samples)))
            events.extend((t, a.status.value, a.fingerprint) for a in out)
            t += 0.25

    run(240.0, False)
    quiet = sum(s == "firing" for _, s, _ in events)
    start = t
    run(30.0, True)
    stop = t
    run(40.0, False)
    burn = [e for e in events if e[0] >= start]
    fires = [x for x, s, _ in burn if s == "firing"]
    resolves = [x for x, s, _ in burn if s == "resolved"]
    return {"quiet_alerts": quiet,
            "fired_after_s": fires[0] - start if fires else None,
            "resolved_during_burn": sum(x < stop for x in resolves),
            "last_resolve_after_stop_s": max(resolves) - stop if resolves else None,
            "firing_at_end": len({f for _, s, f in burn if s == "firing"})
            - len({f for _, s, f in burn if s == "resolved"})}


def checkpoint_cost(series: int = 10_000, points: int = 150) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    alerter = default_metric_alerter()
    sem = MetricSemantics()
    names = [f"svc{i % 50}" for i in range(series)]
    for t in range(points):
        cols = MetricColumns.from_samples([
            MetricSample("requests_total", {"service": n, "pod": f"p{i}"}, float(t),
                         float(100 * t + rng.normal(0, 1))) for i, n in enumerate(names)])
        alerter.process_columns(sem.apply(cols))
    started = time.perf_counter()
    blob = pickle.dumps({"alerter": alerter.export_state(), "semantics": sem},
                        protocol=pickle.HIGHEST_PROTOCOL)
    return len(blob) / series, time.perf_counter() - started


def main() -> None:
    for step in (1.0, 5.0):
        print(f"sustained 40 % error ratio, {step:.0f} s scrape:", sustained(step))
    print("alerts on 50 counters after a 2-minute gap and a restart: raw",
          gap(False), "| as rates", gap(True))
    print("spike 30 s after a restart raised: with checkpoint", restart_spike(True),
          "| learning afresh", restart_spike(False))
    for seed in range(5):
        print(f"CPU burn on an idle node, tick-quantised counters, seed {seed}:",
              cpu_burn(seed))
    per_series, seconds = checkpoint_cost()
    print(f"checkpoint: {per_series:.0f} bytes per series, {seconds * 1000:.0f} ms to "
          "pickle 10,000 series")


if __name__ == "__main__":
    main()
