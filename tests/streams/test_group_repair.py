"""A single replica gets its partitions back when the local broker strands a rebalance.

The broker names a leader when a rebalance starts; if that member leaves cleanly before it
sends the assignment, the broker keeps waiting for it for ever (Tansu 0.6). The member left
in the group then holds nothing however often it rejoins; the watchdog completes the
stranded rebalance and the member gets its partitions within seconds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence

import orjson
import pytest
from confluent_kafka import Consumer

from streams.kafka import KafkaConfig, ensure_topics
from streams.producer import EventProducer, Record
from streams.runner import StageRunner
from streams.stage import Incoming, StageResult
from streams.topics import Topics
from tests.support.polling import eventually

pytestmark = pytest.mark.broker


class Counter:
    name = "counter"

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self.seen = 0

    def topics(self) -> list[str]:
        return [self._topic]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        self.seen += len(batch)
        return StageResult()

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        return []


def _strand(kafka: KafkaConfig, group: str, topic: str, runner: StageRunner) -> None:
    """A member that is the group's leader leaves while a rebalance waits for it."""
    leader = Consumer(kafka.consumer(group))
    assigned = threading.Event()
    leader.subscribe([topic], on_assign=lambda c, p: assigned.set())
    deadline = time.monotonic() + 30
    while not assigned.is_set() and time.monotonic() < deadline:
        leader.consume(10, 0.2)
    assert assigned.is_set()
    # The runner joins, which starts a rebalance led by `leader`; `leader` does not poll, so
    # it never sends the assignment, and then leaves cleanly.
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    time.sleep(3.0)
    leader.close()


def test_a_single_replica_gets_its_partitions_back_from_a_stranded_rebalance(
    kafka: KafkaConfig, topics: Topics
) -> None:
    topics = dataclasses.replace(topics, data_partitions=2)
    ensure_topics(kafka, topics.specs())
    EventProducer(kafka).publish(
        [Record(topics.metrics, f"k{i}".encode(), orjson.dumps({"x": i})) for i in range(20)])
    group = f"{topics.metrics}.repair"
    stage = Counter(topics.metrics)
    runner = StageRunner(stage, kafka, group_id=group, dlq_topic=topics.dlq,
                         watchdog_interval=1.0, stall_after=30.0, idle_stall_after=4.0)
    try:
        _strand(kafka, group, topics.metrics, runner)
        left = time.monotonic()
        assert eventually(lambda: len(runner.assigned) == 2, timeout=40.0)
        took = time.monotonic() - left
        assert eventually(lambda: stage.seen >= 20, timeout=20.0)
        assert runner.rejoins >= 1
        assert runner.status()["partitions"]
        print(f"partitions back {took:.1f} s after the leader left")
    finally:
        runner.stop()
