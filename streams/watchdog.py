"""Partitions a consumer group has stopped consuming, seen from one of its members.

A killed member's partitions should pass to the others at the next rebalance; on some
brokers, after a SIGKILL, that rebalance never happened and a partition sat unowned for
minutes while its backlog grew. The only signs every Kafka-protocol broker serves are the
group's committed offsets and the partitions' end offsets (the local broker answers
DescribeGroups without members), so a partition counts as stalled when its committed offset
stands below the end, unmoved, for ``stall_after`` seconds, and this member does not hold it.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition


class StallDetector:
    """Remembers, per partition, the group's offset and since when it stands there."""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._seen: dict[tuple[str, int], tuple[int, float]] = {}

    def reset(self) -> None:
        self._seen.clear()

    def stalled(self, consumer: Consumer, topics: Sequence[str],
                held: Sequence[TopicPartition], now: float) -> list[tuple[str, int]]:
        """Partitions of ``topics`` not in ``held`` whose group offset stands below the end,
        unmoved for ``stall_after`` seconds (as seen by this method's calls)."""
        mine = {(p.topic, p.partition) for p in held}
        others: list[TopicPartition] = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=2.0).topics.get(topic)
            if meta is None:
                continue
            others.extend(TopicPartition(topic, p) for p in meta.partitions
                          if (topic, p) not in mine)
        stalled: list[tuple[str, int]] = []
        seen: dict[tuple[str, int], tuple[int, float]] = {}
        for tp in consumer.committed(others, timeout=2.0) if others else []:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                       timeout=2.0)
            position = tp.offset if tp.offset >= 0 else low
            if position >= high:
                continue  # nothing to consume
            key = (tp.topic, tp.partition)
            before = self._seen.get(key)
            since = before[1] if before is not None and before[0] == position else now
            seen[key] = (position, since)
            if now - since >= self.stall_after:
                stalled.append(key)
        self._seen = seen
        return stalled
