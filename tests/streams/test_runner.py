"""The stage runner against the real local broker: at-least-once, DLQ, keeps going."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import orjson
import pytest

from aiops.model import DecodeError
from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.runner import StageRunner
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics
from tests.support.kafka import read_topic

pytestmark = pytest.mark.broker


class Doubler:
    """Emits 2*x for every {"x": n}; raises on x == 13; rejects non-JSON."""

    name = "double"

    def __init__(self, topics: Topics) -> None:
        self._t = topics
        self.seen: list[int] = []

    def topics(self) -> list[str]:
        return [self._t.metrics]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        result = StageResult()
        for m in batch:
            try:
                x = orjson.loads(m.value)["x"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                result.dead.append(DeadLetter(m, DecodeError("not {x: n}").reason))
                continue
            if x == 13:
                raise RuntimeError("unlucky")
            self.seen.append(x)
            result.outputs.append(Record(self._t.alerts, m.key, orjson.dumps({"y": 2 * x})))
        return result

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        return []


def _run(runner: StageRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def test_outputs_published_bad_records_dead_lettered(kafka: KafkaConfig, topics: Topics) -> None:
    ensure_topics(kafka, topics.specs())
    producer = EventProducer(kafka)
    values = [orjson.dumps({"x": i}) for i in range(20)] + [b"{not json", b'{"z": 1}']
    producer.publish([Record(topics.metrics, b"k", v) for v in values])

    stage = Doubler(topics)
    runner = StageRunner(stage, kafka, group_id=f"{topics.metrics}.g", dlq_topic=topics.dlq)
    thread = _run(runner)
    out = read_topic(kafka, topics.alerts, expect=19)
    dlq = read_topic(kafka, topics.dlq, expect=3)
    runner.stop()
    thread.join(20)

    assert sorted(orjson.loads(v)["y"] for _, v in out) == [2 * i for i in range(20) if i != 13]
    reasons = sorted(orjson.loads(v)["reason"] for _, v in dlq)
    assert len(reasons) == 3
    assert any("unlucky" in r for r in reasons)
    assert sum("not {x: n}" in r for r in reasons) == 2
    originals = {orjson.loads(v)["value"] for _, v in dlq}
    assert "{not json" in originals  # the input is kept byte for byte


def test_restart_resumes_from_committed_offsets(kafka: KafkaConfig, topics: Topics) -> None:
    ensure_topics(kafka, topics.specs())
    producer = EventProducer(kafka)
    producer.publish([Record(topics.metrics, None, orjson.dumps({"x": i})) for i in range(10)])
    group = f"{topics.metrics}.g"

    first = Doubler(topics)
    runner = StageRunner(first, kafka, group_id=group, dlq_topic=topics.dlq)
    thread = _run(runner)
    read_topic(kafka, topics.alerts, expect=10)
    runner.stop()
    thread.join(20)

    producer.publish([Record(topics.metrics, None, orjson.dumps({"x": i})) for i in range(20, 25)])
    second = Doubler(topics)
    runner = StageRunner(second, kafka, group_id=group, dlq_topic=topics.dlq)
    thread = _run(runner)
    read_topic(kafka, topics.alerts, expect=15)
    runner.stop()
    thread.join(20)

    assert sorted(first.seen) == list(range(10))
    assert sorted(second.seen) == list(range(20, 25))  # nothing re-processed after a clean stop
