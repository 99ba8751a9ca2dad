"""The soak: one incident that grows by webhooks of new alerts for ``minutes``, each worker's
RSS and the correlate group's lag sampled; then lag back to 0 and the incident in the API
and on the feed."""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx
import orjson
from chaos_cluster import Sink, cluster
from chaos_input import T0, Metrics, alert, post, webhook
from chaos_outcome import docs, lag


def soak(minutes: float, batch: int = 20, pace: float = 1.5) -> dict[str, Any]:
    from streams.kafka import KafkaConfig
    from tests.support.kafka import read_topic

    sink = Sink()
    samples: list[dict[str, Any]] = []
    with cluster(1, sink) as run, httpx.Client(
            base_url=f"http://127.0.0.1:{run.api_port}", timeout=120) as api:
        metrics = Metrics(run).start()
        started = time.monotonic()
        n = 0
        last_sample = 0.0
        while time.monotonic() - started < minutes * 60:
            post(api, webhook([alert(f"Grow{n + i}", "chaos-soak", T0 + (n + i) * 0.0005)
                               for i in range(batch)]))
            n += batch
            run.reap()
            if time.monotonic() - last_sample >= 15:
                last_sample = time.monotonic()
                samples.append({"t": round(last_sample - started), "alerts_sent": n,
                                "rss_mb": {k: round(v) for k, v in run.rss_mb().items()},
                                "correlate_lag": lag(run, "correlate", run.topic("alerts"))})
                print(f"  {samples[-1]}", file=sys.stderr)
            time.sleep(pace)
        metrics.stop()
        load_stopped = time.monotonic()
        while lag(run, "correlate", run.topic("alerts")) > 0 and \
                time.monotonic() - load_stopped < 600:
            time.sleep(1)
        drained = time.monotonic() - load_stopped
        samples.append({"t": round(time.monotonic() - started), "alerts_sent": n,
                        "rss_mb": {k: round(v) for k, v in run.rss_mb().items()},
                        "correlate_lag": lag(run, "correlate", run.topic("alerts"))})
        listed = api.get("/api/v1/incidents", params={"service": "chaos-soak"}).json()
        ident = listed["incidents"][0]["id"]
        t = time.monotonic()
        served = api.get(f"/api/v1/incidents/{ident}")
        api_s = time.monotonic() - t
        feed = docs(read_topic(KafkaConfig(f"127.0.0.1:{run.broker_port}"),
                                run.topic("incidents"), expect=100_000, timeout=20))
        ours = [d for d in feed if d.get("id") == ident]
        report = {
            "minutes": minutes, "alerts_sent": n, "lag_drained_s": round(drained, 1),
            "api_alerts": len(served.json()["alerts"]), "api_seconds": round(api_s, 2),
            "feed_messages": len(ours),
            "feed_last_counts": ours[-1].get("counts") if ours else None,
            "feed_largest_bytes": max((len(orjson.dumps(d)) for d in ours), default=0),
            "worker_deaths": run.deaths, "samples": samples,
        }
    sink.close()
    return report
