"""Kills during a stream: the same input played uninterrupted, then while random workers
are killed (80 % SIGKILL, 20 % SIGTERM) and restarted; the two outcomes compared."""

from __future__ import annotations

import random
import sys
import threading
import time
from typing import Any

import httpx
from chaos_cluster import Cluster, Sink, cluster
from chaos_input import Metrics, post, scenario
from chaos_outcome import compare, outcome, settle


def play(run: Cluster, hooks: list[dict[str, Any]], pace: float) -> None:
    metrics = Metrics(run).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{run.api_port}", timeout=30) as api:
        for body in hooks:
            post(api, body)
            run.reap()
            time.sleep(pace)
    metrics.stop()


def kills(replicas: int, target: int, incidents: int, pace: float, seed: int = 7
          ) -> dict[str, Any]:
    """The stream uninterrupted, then under ``target`` kills; the comparison."""
    hooks = scenario(incidents)
    results = []
    for chaos in (False, True):
        sink = Sink()
        with cluster(replicas, sink) as run:
            stop = threading.Event()
            done = 0

            def killer(run: Cluster = run, stop: threading.Event = stop) -> None:
                nonlocal done
                rng = random.Random(seed)
                interval = len(hooks) * pace / (target + 2)
                while not stop.is_set() and done < target:
                    stop.wait(rng.uniform(0.5, 1.5) * interval)
                    if not stop.is_set():
                        run.kill(rng)
                        done += 1

            thread = threading.Thread(target=killer, daemon=True)
            if chaos:
                thread.start()
            started = time.monotonic()
            play(run, hooks, pace)
            while chaos and done < target:  # all kills happen while input flows or lags
                time.sleep(0.5)
            stop.set()
            if chaos:
                thread.join(60)
            settled = settle(run)
            results.append(outcome(run, sink))
            print(f"  {'chaos' if chaos else 'baseline'} run: {time.monotonic() - started:.0f}"
                  f" s, settled in {settled:.0f} s, kills {dict(run.kills)}, "
                  f"deaths {run.deaths}", file=sys.stderr)
            if chaos:
                kill_counts = dict(run.kills)
                deaths = run.deaths
        sink.close()
    report = compare(results[0], results[1])
    report.update({"replicas": replicas, "kills": sum(kill_counts.values()),
                   "sigkill": kill_counts.get("SIGKILL", 0),
                   "sigterm": kill_counts.get("SIGTERM", 0), "worker_deaths": deaths,
                   "webhooks": len(hooks)})
    return report
