"""The engine's health as the broker sees it, whichever process runs the stages: each
stage's consumer-group lag (committed offsets against the partitions' ends) and the
dead-letter topic's size. In the scale-out form the API runs alone, so its own metrics
say nothing of the workers; the broker knows what every worker committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.kafka import KafkaConfig


@dataclass(frozen=True, slots=True)
class GroupLag:
    stage: str
    group: str
    lag: int
    committed: bool  # False: the group has committed nothing yet (not started)


@dataclass(frozen=True, slots=True)
class BrokerHealth:
    groups: tuple[GroupLag, ...] = ()
    dead_letters: int = 0
    error: str = ""
    checked_at: float = field(default_factory=time.time)


class BrokerView:
    """Reads lag and the DLQ size from the broker, at most every ``refresh_s`` seconds.

    ``inputs`` maps a stage to its input topics; its group is ``<group_prefix>.<stage>``,
    as the stage runners name them.
    """

    def __init__(self, config: KafkaConfig, group_prefix: str,
                 inputs: Mapping[str, Sequence[str]], dlq_topic: str,
                 refresh_s: float = 5.0, timeout_s: float = 3.0) -> None:
        self._config = config
        self._prefix = group_prefix
        self._inputs = inputs
        self._dlq = dlq_topic
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._last: BrokerHealth | None = None

    def health(self) -> BrokerHealth:
        with self._lock:
            if self._last is None or time.time() - self._last.checked_at >= self._refresh_s:
                self._last = self._read()
            return self._last

    def _read(self) -> BrokerHealth:
        try:
            groups = []
            for stage, topics in self._inputs.items():
                group = f"{self._prefix}.{stage}"
                consumer = Consumer({**self._config.consumer(group)})
                try:
                    lag, committed = self._group_lag(consumer, topics)
                finally:
                    consumer.close()
                groups.append(GroupLag(stage, group, lag, committed))
            reader = Consumer({**self._config.consumer(f"{self._prefix}.console")})
            try:
                dead = sum(high - low for low, high in self._ends(reader, self._dlq).values())
            finally:
                reader.close()
            return BrokerHealth(tuple(groups), dead)
        except KafkaException as exc:
            return BrokerHealth(error=str(exc))

    def _ends(self, consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
        metadata = consumer.list_topics(topic, timeout=self._timeout_s)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None:
            return {}
        ends: dict[int, tuple[int, int]] = {}
        for p in found.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                       timeout=self._timeout_s)
            ends[p] = (int(low), int(high))
        return ends

    def _group_lag(self, consumer: Consumer, topics: Sequence[str]) -> tuple[int, bool]:
        ends = {(t, p): bounds for t in topics for p, bounds in self._ends(consumer, t).items()}
        if not ends:
            return 0, False
        committed = consumer.committed([TopicPartition(t, p) for t, p in ends],
                                       timeout=self._timeout_s)
        lag, any_committed = 0, False
        for part in committed:
            low, high = ends[(part.topic, part.partition)]
            if part.offset >= 0:
                any_committed = True
                lag += max(0, high - part.offset)
            else:
                lag += high - low
        return lag, any_committed
