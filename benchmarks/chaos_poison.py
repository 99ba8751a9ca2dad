"""Poison on every input topic and a storm webhook: no worker may die, every poison record is
dead-lettered (fitting the broker), and the storm incident is served by the API and the feed."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
import orjson
from chaos_cluster import Cluster, Sink, cluster
from chaos_input import T0, alert, post, webhook
from chaos_outcome import docs, settle


def poison_records(run: Cluster) -> list[tuple[str, bytes]]:
    big_text = b'{"labels": {"alertname": "' + b"x" * 950_000 + b'"}}'
    garbage = bytes(range(256)) * 3700
    alerts = [
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": 1e300},
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": -1e300},
        {"labels": {"alertname": "P", "service": "p\x00nul"}, "startsAt": T0},
        {"labels": {"alertname": "P", "service": "p", "big": "y" * 200_000}, "startsAt": T0},
        {"labels": {"alertname": "P" * 300, "service": "p" * 300}, "startsAt": T0},
        {"labels": {"alertname": "P", "service": "p"}, "startsAt": "9999-12-31T23:59:59Z"},
    ]
    out: list[tuple[str, bytes]] = []
    for topic in ("metrics", "logs", "alerts", "incidents", "topology"):
        out += [(topic, big_text), (topic, garbage), (topic, b"\x00" * 10),
                (topic, b"[" * 10_000), (topic, b'{"ts": 1e300, "value": 1e308}')]
    out += [("alerts", orjson.dumps(a)) for a in alerts]
    out += [("metrics", orjson.dumps({"series": [{"name": "c", "labels": {"service": "p"},
                                                  "ts": [1e300, -1e300], "values": [1, 2]}]})),
            ("logs", orjson.dumps({"ts": 1e300, "service": "p", "message": "x\x00y"})),
            ("incidents", orjson.dumps({"schema": "aiops.incident/v1", "id": "x",
                                        "status": "open", "opened_at": 1e300,
                                        "updated_at": 1e300})),
            ("topology", orjson.dumps({"op": "add_edge", "source": 1e300}))]
    return [(run.topic(t), v) for t, v in out]


def poison(big: int = 20_000, settle_s: float = 300.0) -> dict[str, Any]:
    from streams.kafka import KafkaConfig
    from streams.producer import EventProducer, Record
    from tests.support.kafka import read_topic

    sink = Sink()
    with cluster(1, sink) as run:
        kafka = KafkaConfig(f"127.0.0.1:{run.broker_port}")
        producer = EventProducer(kafka)
        records = poison_records(run)
        for topic, value in records:
            producer.publish([Record(topic, b"poison", value)])
        with httpx.Client(base_url=f"http://127.0.0.1:{run.api_port}", timeout=120) as api:
            huge = [alert(f"Storm{i}", "chaos-storm", T0 + i * 0.001) for i in range(big)]
            post(api, webhook(huge))
            time.sleep(5)
            settle(run, timeout=settle_s)
            run.reap()
            listed = api.get("/api/v1/incidents", params={"service": "chaos-storm"}).json()
            storm = listed["incidents"][0] if listed.get("incidents") else {}
            served = api.get(f"/api/v1/incidents/{storm.get('id')}").json() if storm else {}
        feed = docs(read_topic(kafka, run.topic("incidents"), expect=10_000, timeout=15))
        ours = [d for d in feed if d.get("id") == storm.get("id")]
        dead = read_topic(kafka, run.topic("dlq"), expect=len(records), timeout=30)
        reasons = Counter(orjson.loads(v)["stage"] for _, v in dead)
        sizes = max(len(v) for _, v in dead) if dead else 0
        report = {
            "poison_records": len(records), "dead_letters": len(dead),
            "dead_letters_by_stage": dict(reasons), "largest_dead_letter": sizes,
            "worker_deaths": run.deaths,
            "storm_alerts_api": len(served.get("alerts", [])),
            "storm_feed_messages": len(ours),
            "storm_feed_counts": ours[-1].get("counts") if ours else None,
            "storm_feed_largest": max((len(orjson.dumps(d)) for d in ours), default=0),
        }
    sink.close()
    return report
