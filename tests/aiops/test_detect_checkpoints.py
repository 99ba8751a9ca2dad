"""The detect stage's state moves with its partitions: saved to the store with the offset
it reached, restored on assignment. A worker that restarts resumes where its state was
saved and raises what an uninterrupted one raises (the issue's case: the same spike 30 s
after a restart raised nothing, the detector having to learn every series again)."""

from __future__ import annotations

import zlib
from pathlib import Path

from aiops.model import Alert
from aiops.stages.detect import DetectStage
from aiops.storage.checkpoints import CheckpointStore
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.wire.shapes import decode_alert
from detectors import default_log_alerter, default_metric_alerter
from streams.stage import Incoming
from streams.topics import Topics
from tests.aiops.detect_data import SERVICES, T0, alert_set, scrapes

TOPICS = Topics()
RESTART_AT = 400
SPIKE_AT = RESTART_AT + 30


def _partition(service: str) -> int:
    return zlib.crc32(service.encode()) % 3


def _incoming(data: list[tuple[str, int, bytes]]) -> list[tuple[int, Incoming]]:
    """Each message with its partition and offset, as a consumer would see them."""
    offsets = [0, 0, 0]
    out = []
    for service, t, value in data:
        p = _partition(service)
        out.append((t, Incoming(TOPICS.metrics, value, service.encode(), p, offsets[p])))
        offsets[p] += 1
    return out


def _stage(store: CheckpointStore | None) -> DetectStage:
    return DetectStage(TOPICS, default_metric_alerter, default_log_alerter,
                       checkpoints=store, checkpoint_interval_s=0.0)


def _run(stage: DetectStage, messages: list[Incoming], chunk: int = 30) -> list[Alert]:
    alerts: list[Alert] = []
    for i in range(0, len(messages), chunk):
        batch = messages[i:i + chunk]
        alerts += [decode_alert(r.value) for r in stage.handle(batch).outputs]
        offsets: dict[tuple[str, int], int] = {}
        for m in batch:
            offsets[(m.topic, m.partition)] = m.offset + 1
        stage.committed(offsets)
    return alerts


def test_a_restarted_detect_stage_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    data = _incoming(scrapes(600, spike_at=SPIKE_AT, shift_at=300))
    messages = [m for _, m in data]
    expected = _run(_stage(None), messages, chunk=45)
    fired = {a.labels["metric"] for a in expected if a.status.value == "firing"}
    assert {"latency_ms", "requests_total"} <= fired
    spike = [a for a in expected if a.labels["metric"] == "latency_ms"
             and a.status.value == "firing"]
    assert spike[0].starts_at >= 1_790_000_000.0 + SPIKE_AT

    url = f"sqlite:///{tmp_path / 'ckpt.db'}"
    upgrade(url)
    store = CheckpointStore(create_engine(url), "aiops.detect")
    before = [m for t, m in data if t < RESTART_AT]
    first = _stage(store)
    got = _run(first, before)
    # The worker dies; another one is assigned the partitions.
    second = _stage(store)
    parts = [(TOPICS.metrics, p) for p in range(3)]
    resume = second.assigned(parts)
    assert set(resume) == {(TOPICS.metrics, _partition(s)) for s in SERVICES}
    rest = [m for m in messages if m.offset >= resume[(m.topic, m.partition)]]
    got += _run(second, rest, chunk=17)
    assert alert_set(got) == alert_set(expected)

    # Without its state the new worker learns every series again: it scores from the 20th
    # point, so it still sees the spike, but not as the uninterrupted run did (later), and
    # it does not know that pay's shifted rate is firing.
    fresh = _stage(None)
    missed = _run(fresh, [m for t, m in data if t >= RESTART_AT])
    after = [a for a in expected if a.starts_at >= T0 + RESTART_AT]
    assert alert_set(missed) != alert_set(after)


def test_a_checkpoint_that_cannot_be_read_means_learning_afresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    upgrade(url)
    store = CheckpointStore(create_engine(url), "aiops.detect")
    store.save(TOPICS.metrics, 0, 42, b"not a pickle", saved_at=1.0)
    stage = _stage(store)
    assert stage.assigned([(TOPICS.metrics, 0)]) == {}
    assert _run(stage, [m for _, m in _incoming(scrapes(20, spike_at=99, shift_at=99))]) == []
