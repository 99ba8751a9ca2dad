"""Correlation stage throughput, per-alert latency and memory during an alert storm.

Runs the topology-aware correlator and the naive linear-scan baseline on the same storm
(a simulated system of ``--services`` services, ``--alerts`` Alertmanager notifications from
many concurrent faults plus background noise), one after the other in one process, on one
core. Two ways of feeding it, both timed:

* per alert: each notification is ``process()`` followed by ``tick()`` at its sending time
  (every notification publishes its incident's new version);
* consumer batch: ``process_batch()`` over ``--batch`` notifications, then one ``tick()``,
  which is what the correlate stage does per consumer batch (one version per changed
  incident per batch).

``alerts_per_cpu_s`` is the per-core figure: notifications divided by the CPU seconds the
process spent on them. Every engine run starts on its own copy of the topology with nothing
memoised (the neighbourhood walks of the storm's nodes are part of the cost, as after a
topology change); the ``warm-graph`` runs repeat the composite engine on a topology whose
walks are already memoised, the steady state of a long-running correlator.

Every correlator is built through the registry (:mod:`correlator.registry`), as the
correlate stage builds it.

    python benchmarks/correlation_throughput.py --services 2000 --alerts 10000
    python benchmarks/correlation_throughput.py --diagnosis-only   # diagnosis, peers, naive
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from aiops.model import Alert
from aiops.model.deviation import Deviation
from aiops.sim.storm import build_storm
from correlator.config import CorrelatorConfig, host_down_inhibition
from correlator.engine import TopologyCorrelator
from correlator.registry import CorrelatorSpec, builtin_correlators
from correlator.types import Correlator
from topology.graph import ServiceGraph


def _timed(feed: Callable[[Sequence[tuple[float, Alert]]], int],
           chunks: Sequence[Sequence[tuple[float, Alert]]], budget_s: float
           ) -> tuple[list[float], int, int, float, float]:
    """Feed ``chunks`` one by one (``feed`` returns the versions produced), timing each;
    returns latencies in ms (sorted), versions, notifications fed, wall and CPU seconds."""
    lat: list[int] = []
    produced = fed = 0
    gc.collect()
    started = time.perf_counter()
    cpu0 = time.process_time()
    for chunk in chunks:
        t0 = time.perf_counter_ns()
        produced += feed(chunk)
        lat.append(time.perf_counter_ns() - t0)
        fed += len(chunk)
        if time.perf_counter() - started > budget_s:
            break
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    return sorted(x / 1e6 for x in lat), produced, fed, total, cpu


def run(make: Callable[[], Correlator], events: Sequence[tuple[float, Alert]],
        budget_s: float) -> dict[str, Any]:
    correlator = make()

    def feed(chunk: Sequence[tuple[float, Alert]]) -> int:
        ts, alert = chunk[0]
        return len(correlator.process(alert)) + len(correlator.tick(ts))

    lat_ms, produced, n, total, cpu = _timed(feed, [[e] for e in events], budget_s)
    return {
        "alerts": n, "complete": n == len(events), "seconds": round(total, 3),
        "alerts_per_s": round(n / total, 1), "alerts_per_cpu_s": round(n / cpu, 1),
        "p50_ms": round(lat_ms[n // 2], 4), "p99_ms": round(lat_ms[int(n * 0.99) - 1], 4),
        "max_ms": round(lat_ms[-1], 3), "mean_ms": round(statistics.fmean(lat_ms), 4),
        "incident_versions": produced,
    }


def run_batched(make: Callable[[], Correlator], events: Sequence[tuple[float, Alert]],
                batch: int) -> dict[str, Any]:
    """Consumer-batch mode: ``process_batch`` over ``batch`` records, then one ``tick``."""
    correlator = make()

    def feed(chunk: Sequence[tuple[float, Alert]]) -> int:
        out = correlator.process_batch([a for _, a in chunk])
        return len(out) + len(correlator.tick(chunk[-1][0]))

    chunks = [events[i:i + batch] for i in range(0, len(events), batch)]
    lat_ms, produced, _, total, cpu = _timed(feed, chunks, float("inf"))
    n = len(lat_ms)
    return {
        "alerts": len(events), "batch": batch, "seconds": round(total, 3),
        "alerts_per_s": round(len(events) / total, 1),
        "alerts_per_cpu_s": round(len(events) / cpu, 1),
        "batch_p50_ms": round(lat_ms[n // 2], 3),
        "batch_p99_ms": round(lat_ms[max(0, int(n * 0.99) - 1)], 3),
        "per_alert_mean_ms": round(total * 1000 / len(events), 4),
        "incident_versions": produced,
    }


def deviations_for(events: Sequence[tuple[float, Alert]], graph: ServiceGraph
                   ) -> list[list[Deviation]]:
    """What the detect stage would publish alongside each firing notification: a deviation
    summary on the alert's node and one on a quiet dependency of it (a callee that never
    alerted), so that diagnosis has non-alerting nodes to bring in and rank."""
    mapper = TopologyCorrelator(graph=graph).mapper  # the engine's own label mapping
    out: list[list[Deviation]] = []
    for ts, alert in events:
        if not alert.firing:
            out.append([])
            continue
        node = mapper.node_for(alert.labels)
        devs = [Deviation(node, "latency", "latency p95", "latency", 0.9, 0.1, 25.0,
                          alert.starts_at, ts)]
        callees = graph.callees(node) if node in graph else []
        if callees:
            devs.append(Deviation(callees[0], "latency", "latency p95", "latency", 0.5, 0.05,
                                  40.0, alert.starts_at - 30.0, ts))
        out.append(devs)
    return out


def run_diagnosis(make: Callable[[], Correlator], events: Sequence[tuple[float, Alert]],
                  devs: Sequence[list[Deviation]], batch: int) -> dict[str, Any]:
    """Like :func:`run` (``batch`` 0) or :func:`run_batched`, with the deviation summaries
    observed before each notification: diagnosis and its re-ranking included in the time."""
    correlator = make()
    index = {id(e): i for i, e in enumerate(events)}

    def feed(chunk: Sequence[tuple[float, Alert]]) -> int:
        for e in chunk:
            correlator.observe(devs[index[id(e)]])
        if batch:
            out = correlator.process_batch([a for _, a in chunk])
            return len(out) + len(correlator.tick(chunk[-1][0]))
        ts, alert = chunk[0]
        return len(correlator.process(alert)) + len(correlator.tick(ts))

    chunks = [events[i:i + batch] for i in range(0, len(events), batch)] if batch \
        else [[e] for e in events]
    lat_ms, produced, _, total, cpu = _timed(feed, chunks, float("inf"))
    n = len(lat_ms)
    return {
        "alerts": len(events), "batch": batch, "seconds": round(total, 3),
        "alerts_per_s": round(len(events) / total, 1),
        "alerts_per_cpu_s": round(len(events) / cpu, 1),
        "p50_ms": round(lat_ms[n // 2], 4),
        "p99_ms": round(lat_ms[max(0, int(n * 0.99) - 1)], 4),
        "deviations": sum(len(d) for d in devs), "incident_versions": produced,
    }


def peak_memory(make: Callable[[], Correlator], events: Sequence[tuple[float, Alert]],
                limit: int) -> float:
    """Peak Python heap (MiB) allocated while processing, including the correlator."""
    gc.collect()
    tracemalloc.start()
    correlator = make()
    for ts, alert in events[:limit]:
        correlator.process(alert)
        correlator.tick(ts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return round(peak / 2**20, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=2000)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-budget", type=float, default=300.0,
                    help="Stop the naive baseline after this many seconds.")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--json", default="")
    ap.add_argument("--diagnosis-only", action="store_true",
                    help="Only the chain + diagnosis runs, next to the composite engine.")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sc, events = build_storm(args.services, args.alerts, args.seed)
    graph: ServiceGraph = sc.graph
    build_s = time.perf_counter() - t0
    config = CorrelatorConfig(inhibitions=(host_down_inhibition(),))
    episodes = len({(a.fingerprint, a.starts_at) for _, a in events if a.firing})

    correlators = builtin_correlators()

    def engine(name: str, warm: ServiceGraph | None = None,
               diagnosis: bool = False) -> Callable[[], Correlator]:
        """A fresh engine on a cold copy of the topology, or on ``warm`` if given."""
        return lambda: correlators["topology"](CorrelatorSpec(
            config, warm or graph.copy(), ranking=name, diagnosis=diagnosis))

    runs: dict[str, Any] = {}
    devs = deviations_for(events, graph)
    if args.diagnosis_only:  # the composite engine as the peer in the same run
        runs["engine/composite"] = run(engine("composite"), events, budget_s=600)
        runs[f"engine/composite/batch{args.batch}"] = run_batched(engine("composite"), events,
                                                                   args.batch)
    else:
        # the shared topology is walked once up front: memory peaks and warm runs use it
        primer = engine("composite", graph)()
        for ts, alert in events:
            primer.process(alert)
            primer.tick(ts)
        for name in ("composite", "pagerank", "top-score"):
            runs[f"engine/{name}"] = run(engine(name), events, budget_s=600)
            runs[f"engine/{name}"]["peak_mib"] = peak_memory(engine(name, graph), events,
                                                             len(events))
        for name in ("composite", "top-score"):
            runs[f"engine/{name}/batch{args.batch}"] = run_batched(engine(name), events,
                                                                    args.batch)
        runs["engine/composite/warm-graph"] = run(engine("composite", graph), events,
                                                  budget_s=600)
        runs[f"engine/composite/batch{args.batch}/warm-graph"] = run_batched(
            engine("composite", graph), events, args.batch)

    diagnosing = engine("chain", diagnosis=True)
    runs["engine/chain+diagnosis"] = run_diagnosis(diagnosing, events, devs, 0)
    runs[f"engine/chain+diagnosis/batch{args.batch}"] = run_diagnosis(diagnosing, events, devs,
                                                                      args.batch)

    def naive() -> Correlator:
        return correlators["naive"](CorrelatorSpec(config, graph))

    runs["naive-baseline"] = run(naive, events, budget_s=args.baseline_budget)
    base = runs["naive-baseline"]["alerts_per_cpu_s"]
    for r in runs.values():
        r["throughput_vs_naive"] = round(r["alerts_per_cpu_s"] / base, 2)
    if args.diagnosis_only:
        print(json.dumps(runs, indent=1))
        return
    runs["naive-baseline"]["peak_mib"] = peak_memory(naive, events,
                                                     runs["naive-baseline"]["alerts"])
    per_alert, batched = runs["engine/composite"], runs[f"engine/composite/batch{args.batch}"]
    summary = {
        "per_alert_alerts_per_cpu_s": per_alert["alerts_per_cpu_s"],
        "per_alert_p50_ms": per_alert["p50_ms"], "per_alert_p99_ms": per_alert["p99_ms"],
        f"batch{args.batch}_alerts_per_cpu_s": batched["alerts_per_cpu_s"],
        f"batch{args.batch}_p99_ms": batched["batch_p99_ms"],
        "warm_graph_per_alert_alerts_per_cpu_s":
            runs["engine/composite/warm-graph"]["alerts_per_cpu_s"],
        f"warm_graph_batch{args.batch}_alerts_per_cpu_s":
            runs[f"engine/composite/batch{args.batch}/warm-graph"]["alerts_per_cpu_s"],
        "naive_alerts_per_cpu_s": base,
        "diagnosis_per_alert_alerts_per_cpu_s":
            runs["engine/chain+diagnosis"]["alerts_per_cpu_s"],
        "diagnosis_per_alert_p99_ms": runs["engine/chain+diagnosis"]["p99_ms"],
        f"diagnosis_batch{args.batch}_alerts_per_cpu_s":
            runs[f"engine/chain+diagnosis/batch{args.batch}"]["alerts_per_cpu_s"],
        f"diagnosis_batch{args.batch}_p99_ms":
            runs[f"engine/chain+diagnosis/batch{args.batch}"]["p99_ms"],
    }
    report = {
        "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
        "machine": platform.machine(), "services": args.services,
        "graph_nodes": len(graph), "notifications": len(events), "alert_episodes": episodes,
        "storm_build_s": round(build_s, 1), "summary": summary, "runs": runs,
    }
    text = json.dumps(report, indent=1)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
