"""The stage runner against the real local broker when outputs are too large, entry points
raise, batches fail halfway, and a partition is left without a consumer."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Sequence

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.runner import StageRunner
from streams.stage import Incoming, StageResult
from streams.topics import Topics
from streams.watchdog import StallDetector
from tests.support.kafka import read_topic
from tests.support.polling import eventually

pytestmark = pytest.mark.broker


class Summer:
    """Adds up {"x": n}; emits a 1.5 MB output for x == 7; fails a whole batch holding
    x == 13 after applying part of it (and that record alone); raises in every idle tick.
    ``rollback`` restores the total the last good batch left."""

    name = "summer"

    def __init__(self, topics: Topics) -> None:
        self._t = topics
        self.total = 0
        self._committed_total = 0
        self.idle_calls = 0

    def topics(self) -> list[str]:
        return [self._t.metrics]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        result = StageResult()
        for m in batch:
            x = orjson.loads(m.value)["x"]
            self.total += x  # applied before the failure below: needs the rollback
            if x == 13:
                raise RuntimeError("unlucky")
            value = b"y" * 1_500_000 if x == 7 else orjson.dumps({"y": x})
            result.outputs.append(Record(self._t.alerts, m.key, value))
        self._committed_total = self.total
        return result

    def rollback(self) -> None:
        self.total = self._committed_total

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        self.idle_calls += 1
        raise OverflowError("timestamp out of range for platform time_t")


def test_oversized_output_failed_batch_and_raising_timer_never_stop_the_loop(
    kafka: KafkaConfig, topics: Topics
) -> None:
    ensure_topics(kafka, topics.specs())
    producer = EventProducer(kafka)
    producer.publish([Record(topics.metrics, b"k", orjson.dumps({"x": i})) for i in range(20)])
    garbage = bytes(range(256)) * 3800  # ~970 KB, not UTF-8: base64 would not fit
    producer.publish([Record(topics.metrics, b"k", garbage)])
    producer.publish([Record(topics.metrics, b"k", orjson.dumps({"x": 100}))])

    stage = Summer(topics)
    runner = StageRunner(stage, kafka, group_id=f"{topics.metrics}.g", dlq_topic=topics.dlq,
                         idle_interval=0.2)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    out = read_topic(kafka, topics.alerts, expect=19)
    dlq = read_topic(kafka, topics.dlq, expect=3)
    eventually(lambda: stage.idle_calls >= 3)
    runner.stop()
    thread.join(20)
    assert not thread.is_alive()

    assert sorted(orjson.loads(v)["y"] for _, v in out) == sorted(
        [i for i in range(20) if i not in (7, 13)] + [100])
    # each record counted once although the batch holding 13 was retried record by record
    assert stage.total == sum(range(20)) - 13 + 100
    docs = [orjson.loads(v) for _, v in dlq]
    assert all(len(v) <= 1_000_000 for _, v in dlq)
    big = next(d for d in docs if "exceeds" in d["reason"])
    assert big["size"] == 1_500_000 and big["truncated"] is True
    assert big["sha256"] == hashlib.sha256(b"y" * 1_500_000).hexdigest()
    assert "value_b64" not in big and big["value"].startswith("yyy")
    bad = next(d for d in docs if "JSONDecodeError" in d["reason"])
    assert bad["size"] == len(garbage) and bad["sha256"] == hashlib.sha256(garbage).hexdigest()
    assert "value" not in bad and bad["truncated"] is True
    assert any("unlucky" in d["reason"] for d in docs)
    assert runner.errors >= 3


def test_watchdog_sees_a_partition_with_a_backlog_nobody_consumes(
    kafka: KafkaConfig, topics: Topics
) -> None:
    topics = dataclasses.replace(topics, data_partitions=2)
    ensure_topics(kafka, topics.specs())
    EventProducer(kafka).publish(
        [Record(topics.metrics, f"k{i}".encode(), orjson.dumps({"x": i})) for i in range(40)])
    # Partition 1 got records; nobody of the group reads it.
    group = f"{topics.metrics}.wd"
    consumer = Consumer(kafka.consumer(group))
    consumer.assign([TopicPartition(topics.metrics, 0)])
    detector = StallDetector(stall_after=1.0)
    held = [TopicPartition(topics.metrics, 0)]

    def stalled(at: float) -> list[tuple[str, int]]:
        return detector.stalled(consumer, [topics.metrics], held, at)

    try:
        sizes = [consumer.get_watermark_offsets(TopicPartition(topics.metrics, p))[1]
                 for p in (0, 1)]
        assert sizes[1] > 0
        now = time.monotonic()
        assert stalled(now) == []  # first look: nothing to compare with
        assert stalled(now + 0.5) == []  # not for long enough yet
        assert stalled(now + 1.1) == [(topics.metrics, 1)]
        # once the group's offset moves, the clock starts again
        consumer.commit(offsets=[TopicPartition(topics.metrics, 1, 1)], asynchronous=False)
        assert stalled(now + 2.0) == []
    finally:
        consumer.close()
