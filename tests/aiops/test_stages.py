"""Stage logic without a broker: timers that run on the event clock."""

from __future__ import annotations

from aiops.model.types import AlertStatus
from aiops.stages.detect import DetectStage
from detectors import default_log_alerter, default_metric_alerter
from streams.codecs import decode_alert, dumps
from streams.stage import Incoming
from streams.topics import Topics


def test_detect_stage_resolves_alerts_of_series_that_vanish() -> None:
    topics = Topics()
    wall = [1000.0]
    stage = DetectStage(topics, default_metric_alerter(), default_log_alerter(),
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
