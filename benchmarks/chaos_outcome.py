"""What a chaos run ended with: group lag, settling, the alerts, incidents and notification
keys it produced, and the comparison of a run under chaos with an uninterrupted one."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import orjson
from chaos_cluster import Cluster, Sink


def lag(run: Cluster, stage: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{run.broker_port}",
                         "group.id": f"{run.prefix}.{stage}", "enable.auto.commit": False})
    try:
        meta = consumer.list_topics(topic, timeout=5).topics[topic]
        parts = [TopicPartition(topic, p) for p in meta.partitions]
        total = 0
        for tp in consumer.committed(parts, timeout=5):
            low, high = consumer.get_watermark_offsets(tp, timeout=5)
            total += max(0, high - (tp.offset if tp.offset >= 0 else low))
        return total
    finally:
        consumer.close()


def settle(run: Cluster, timeout: float = 180.0) -> float:
    """Wait until every group has consumed everything and the outbox is empty; seconds."""
    from aiops.storage import Store, create_engine

    store = Store(create_engine(run.store_url))
    started = time.monotonic()
    quiet_since: float | None = None
    while time.monotonic() - started < timeout:
        run.reap()
        busy = (lag(run, "correlate", run.topic("alerts"))
                + lag(run, "act", run.topic("incidents"))
                + lag(run, "detect", run.topic("metrics"))
                + len(store.pending(now=time.time() + 1, limit=1)))
        active = [i for i in store.list_incidents(limit=10_000)
                  if i.status.value != "resolved" and ours(i)]
        if busy == 0 and not active:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 8:
                break
        else:
            quiet_since = None
        time.sleep(1.0)
    store.engine.dispose()
    return time.monotonic() - started


def ours(incident: Any) -> bool:
    return any(s.startswith("chaos") for s in incident.services)


def outcome(run: Cluster, sink: Sink) -> dict[str, Any]:
    import sqlalchemy as sa

    from aiops.storage import Store, create_engine

    store = Store(create_engine(run.store_url))
    incidents = {i.id: i for i in store.list_incidents(limit=100_000) if ours(i)}
    with store.engine.connect() as conn:
        alerts = {row[0] for row in conn.execute(sa.text(
            "select fingerprint from alerts where service like 'chaos%'"))}
    full = {i: store.get_incident(i) for i in incidents}
    store.engine.dispose()
    return {
        "alerts": alerts,
        "incidents": {i: (inc.status.value, sorted(a.fingerprint for a in inc.alerts))
                      for i, inc in full.items()},
        "keys": {k: n for k, n in sink.deliveries.items()
                 if k.split(":")[0] in incidents},
    }


def compare(base: dict[str, Any], chaos: dict[str, Any]) -> dict[str, Any]:
    bi, ci = base["incidents"], chaos["incidents"]
    return {
        "alerts_expected": len(base["alerts"]),
        "alerts_lost": len(base["alerts"] - chaos["alerts"]),
        "incidents_expected": len(bi),
        "incidents_missing": len(bi.keys() - ci.keys()),
        "incidents_extra": len(ci.keys() - bi.keys()),
        "incidents_other_state": sum(1 for i in bi.keys() & ci.keys() if bi[i] != ci[i]),
        "notifications_expected": len(base["keys"]),
        "notifications_missing": len(base["keys"].keys() - chaos["keys"].keys()),
        "notifications_extra": len(chaos["keys"].keys() - base["keys"].keys()),
        "deliveries_repeated_same_key": sum(n - 1 for n in chaos["keys"].values()),
        "examples": {
            "missing_keys": sorted(base["keys"].keys() - chaos["keys"].keys())[:5],
            "extra_keys": sorted(chaos["keys"].keys() - base["keys"].keys())[:5],
            "other_state": [(i, bi[i][0], ci[i][0]) for i in sorted(bi.keys() & ci.keys())
                            if bi[i] != ci[i]][:5],
        },
    }


def docs(records: list[tuple[bytes | None, bytes]]) -> list[dict[str, Any]]:
    """The JSON objects among ``records`` (the poison put on a topic is skipped)."""
    out = []
    for _, value in records:
        with contextlib.suppress(orjson.JSONDecodeError):
            doc = orjson.loads(value)
            if isinstance(doc, dict):
                out.append(doc)
    return out
