"""Stage logic without a broker: timers that run on the event clock."""

from __future__ import annotations

from aiops.model.types import AlertStatus
from aiops.stages.detect import DetectStage
from aiops.wire.shapes import decode_alert, dumps
from detectors import default_log_alerter, default_metric_alerter
from streams.stage import Incoming
from streams.topics import Topics


def test_detect_stage_resolves_alerts_of_series_that_vanish() -> None:
    topics = Topics()
    wall = [1000.0]
    stage = DetectStage(topics, default_metric_alerter, default_log_alerter,
                        series_idle_s=600, wall_clock=lambda: wall[0])
    t0 = 1_790_000_000.0
    values = [50.0 + (i % 5) for i in range(300)] + [500.0] * 5
    batch = [Incoming(topics.metrics, dumps({"name": "latency", "labels": {"service": "a"},
                                             "ts": t0 + 15 * i, "value": v}))
             for i, v in enumerate(values)]
    fired = [decode_alert(r.value) for r in stage.handle(batch).outputs]
    assert [a.status for a in fired] == [AlertStatus.FIRING]
    assert stage.idle(wall[0] + 60) == []  # quiet for a minute: still firing
    wall[0] += 60
    resolved = [decode_alert(r.value) for r in stage.idle(wall[0] + 700)]
    assert [a.status for a in resolved] == [AlertStatus.RESOLVED]
    assert resolved[0].fingerprint == fired[0].fingerprint


def test_detect_stage_runs_the_entity_isolation_forest_when_configured() -> None:
    import numpy as np

    from detectors.entity import EntityAlerter
    from detectors.policy import AlertPolicy

    topics = Topics()
    entity = EntityAlerter(["cpu", "latency"], interval=60.0,
                           policy=AlertPolicy(threshold=0.5, clear_threshold=0.3, for_count=1))
    stage = DetectStage(topics, default_metric_alerter, default_log_alerter,
                        entity_alerter=lambda: entity)
    rng = np.random.default_rng(0)

    def message(i: int, cpu: float, latency: float) -> Incoming:
        ts = 60.0 * i + 1
        return Incoming(topics.metrics, dumps({"samples": [
            {"name": "cpu", "labels": {"service": "cart"}, "ts": ts, "value": cpu},
            {"name": "latency", "labels": {"service": "cart"}, "ts": ts, "value": latency},
            {"name": "other", "labels": {"service": "cart"}, "ts": ts, "value": 1.0},
        ]}))

    calm = [message(i, 50 + rng.normal(0, 2), 100 + rng.normal(0, 3)) for i in range(400)]
    assert not [r for r in stage.handle(calm).outputs
                if decode_alert(r.value).name == "ServiceBehaviourAnomalous"]
    # cpu collapses while latency stays normal: no single series is far off for long,
    # but the pair is unlike anything the service has done.
    odd = [message(i, 5.0, 100 + rng.normal(0, 3)) for i in range(400, 406)]
    names = [decode_alert(r.value).name for r in stage.handle(odd).outputs]
    assert "ServiceBehaviourAnomalous" in names


def test_act_stage_purges_sent_outbox_rows_past_retention(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aiops.notify.log import LogNotifier
    from aiops.stages.act import ActStage
    from aiops.storage.engine import create_engine
    from aiops.storage.migrate import upgrade
    from aiops.storage.repository import OutboxMessage, Store

    url = f"sqlite:///{tmp_path / 'act.db'}"
    upgrade(url)
    store = Store(create_engine(url))
    store.enqueue([OutboxMessage("slack:x", "old", b"{}"), OutboxMessage("slack:x", "new", b"{}")])
    rows = {r.dedup_key: r.id for r in store.pending("slack:x", now=10**10)}
    store.mark_sent([rows["old"]], now=1_000.0)
    store.mark_sent([rows["new"]], now=90_000.0)

    class NoRemediation:
        def handle(self, incident):  # type: ignore[no-untyped-def]
            return []

        def tick(self, now):  # type: ignore[no-untyped-def]
            return []

    stage = ActStage(Topics(), LogNotifier(), NoRemediation(), store,
                     outbox_retention_s=86_400.0)
    stage.idle(100_000.0)
    # "old" is purged; "new" is kept, so a redelivered input cannot send it again.
    assert store.enqueue([OutboxMessage("slack:x", "old", b"{}")]) == 1
    assert store.enqueue([OutboxMessage("slack:x", "new", b"{}")]) == 0
