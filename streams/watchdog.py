"""Noticing, from one member, that its consumer group has stopped consuming, and mending it.

A killed member's partitions should pass to the others at the next rebalance. Two things
have kept them from it on the local broker (Tansu): a rebalance waiting on a member the
broker still counted (until its session timed out), and a rebalance stranded for good when
the member it named leader left cleanly before assigning (see :mod:`streams.group_repair`).

The only signs every Kafka-protocol broker serves are the group's committed offsets and the
partitions' end offsets (the local broker answers DescribeGroups without members), so a
partition counts as stalled when its committed offset stands below the end, unmoved, for a
while, and this member does not hold it. :class:`GroupWatchdog` then completes the stranded
rebalance (or, where the broker refuses that, re-subscribes) and backs off, so that idle
members never keep restarting each other's rebalances.
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable, Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.group_repair import RepairError, repair_group
from streams.kafka import KafkaConfig

log = logging.getLogger(__name__)


class StallDetector:
    """Remembers, per partition, the group's offset and since when it stands there."""

    def __init__(self, stall_after: float) -> None:
        self.stall_after = stall_after
        self._seen: dict[tuple[str, int], tuple[int, float]] = {}

    def reset(self) -> None:
        self._seen.clear()

    def stalled(self, consumer: Consumer, topics: Sequence[str],
                held: Sequence[TopicPartition], now: float,
                after: float | None = None) -> list[tuple[str, int]]:
        """Partitions of ``topics`` not in ``held`` whose group offset stands below the end,
        unmoved for ``after`` (default ``stall_after``) seconds, as seen by these calls."""
        after = self.stall_after if after is None else after
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
            if now - since >= after:
                stalled.append(key)
        self._seen = seen
        return stalled


class GroupWatchdog:
    """Per member: mend the group when partitions this member does not hold stall.

    A member that holds nothing acts after ``idle_stall_after`` seconds (a restarted single
    replica must get its partitions back within seconds, and a healthy rebalance after a
    kill takes about one session timeout); a member that holds some partitions waits the
    longer ``stall_after``, since others may be busy with theirs. After acting it backs off
    (twice the wait, doubling, with jitter, up to 10 minutes).
    """

    def __init__(self, config: KafkaConfig, group_id: str, *, stall_after: float = 30.0,
                 idle_stall_after: float = 12.0) -> None:
        self._config = config
        self._group_id = group_id
        self.stall_after = stall_after
        self.idle_stall_after = min(idle_stall_after, stall_after)
        self._stalls = StallDetector(stall_after)
        self._next = 0.0
        self._backoff: float | None = None
        self.rejoins = 0
        self.repairs = 0

    def check(self, consumer: Consumer, topics: list[str], held: Sequence[TopicPartition],
              now: float, resubscribe: Callable[[], None]) -> None:
        if now < self._next:
            return
        wait = self.idle_stall_after if not held else self.stall_after
        try:
            stalled = self._stalls.stalled(consumer, topics, held, now, after=wait)
        except KafkaException as exc:
            log.debug("watchdog query failed: %s", exc)
            return
        if not stalled:
            return
        backoff = self._backoff if self._backoff is not None else 2 * wait
        self._next = now + backoff * random.uniform(1.0, 1.5)
        self._backoff = min(backoff * 2, 600.0)
        self._stalls.reset()
        self.rejoins += 1
        log.warning("group %s: partitions %s have a backlog nobody consumed for %.0fs; "
                    "mending the group", self._group_id, stalled, wait,
                    extra={"event": "worker.rejoin", "group": self._group_id})
        if self._repair(topics):
            return
        # A broker that refuses the repair (Kafka never strands a rebalance) gets the plain
        # remedy: leave and join again.
        consumer.unsubscribe()
        resubscribe()

    def _repair(self, topics: list[str]) -> bool:
        protocol = str(self._config.extra.get("security.protocol", "plaintext")).lower()
        if protocol != "plaintext":
            return False
        try:
            repair_group(self._config.bootstrap_servers, self._group_id, topics,
                         session_timeout_ms=self._config.session_timeout_ms,
                         client_id=f"{self._config.client_id}-repair")
        except (OSError, RepairError, ValueError, struct.error) as exc:
            log.info("group %s: no stranded rebalance to complete (%s)", self._group_id, exc)
            return False
        self.repairs += 1
        return True
