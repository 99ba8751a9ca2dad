"""The at-least-once consume loop around a :class:`~streams.stage.Stage` (confluent-kafka).

Per batch: consume up to ``max_batch`` messages, hand them to the stage, publish its outputs
and dead letters, wait until the broker has acknowledged all of them, and only then commit
the input offsets. A crash anywhere before the commit means the batch is redelivered, so
stages must be idempotent (they are: dedup by fingerprint and by incident version).

A record that makes the stage raise is retried alone and, if it fails again, goes to the
dead-letter topic with the exception as the reason; the loop never dies on one bad record.

Why not a faust agent on the hot path: faust hands events one at a time through asyncio
(a few thousand per second per worker on these machines), while this loop moves batches of
thousands of messages per librdkafka call. ``streams.faust_app`` runs the same stages as faust
agents for deployments that prefer faust's tooling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from aiops.model import BrokerUnavailableError
from streams.dlq import dead_letter_record
from streams.kafka import KafkaConfig
from streams.producer import EventProducer, Record
from streams.stage import (
    Checkpointed,
    DeadLetter,
    Incoming,
    NullMetrics,
    Stage,
    StageMetrics,
    StageResult,
)

log = logging.getLogger(__name__)


def handle_isolating(stage: Stage, batch: Sequence[Incoming]) -> StageResult:
    """Run the stage on a batch; if it raises, retry record by record and dead-letter the
    records that still fail."""
    try:
        return stage.handle(batch)
    except Exception:
        log.exception("stage %s failed on a batch of %d; isolating", stage.name, len(batch))
    result = StageResult()
    for message in batch:
        try:
            result.extend(stage.handle([message]))
        except Exception as exc:
            log.exception("stage %s: record %s/%d@%d failed", stage.name, message.topic,
                          message.partition, message.offset)
            result.dead.append(DeadLetter(message, f"processing failed: {exc!r}"))
    return result


class StageRunner:
    """Drive one stage as a member of a Kafka consumer group."""

    def __init__(
        self,
        stage: Stage,
        config: KafkaConfig,
        *,
        group_id: str,
        dlq_topic: str,
        producer: EventProducer | None = None,
        metrics: StageMetrics | None = None,
        max_batch: int = 5000,
        poll_timeout: float = 0.2,
        idle_interval: float = 1.0,
        lag_interval: float = 5.0,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self.stage = stage
        self._config = config
        self._group_id = group_id
        self._dlq_topic = dlq_topic
        self._producer = producer or EventProducer(config)
        self._metrics: StageMetrics = metrics or NullMetrics()
        self._max_batch = max_batch
        self._poll_timeout = poll_timeout
        self._idle_interval = idle_interval
        self._lag_interval = lag_interval
        self._auto_offset_reset = auto_offset_reset
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.assigned: list[TopicPartition] = []

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        consumer = Consumer(self._config.consumer(self._group_id,
                                                  auto_offset_reset=self._auto_offset_reset))
        consumer.subscribe(self.stage.topics(), on_assign=self._on_assign,
                           on_revoke=self._on_revoke)
        clean = False
        try:
            self._publish(self.stage.start())
            self.stage.published()
            last_idle = last_lag = time.monotonic()
            while not self._stop.is_set():
                messages = consumer.consume(self._max_batch, self._poll_timeout)
                now = time.monotonic()
                batch = self._accept(messages)
                if batch:
                    self._process(consumer, batch)
                if now - last_idle >= self._idle_interval:
                    last_idle = now
                    outputs = self.stage.idle(time.time())
                    if outputs:
                        self._publish(outputs)
                        self.stage.published()
                if now - last_lag >= self._lag_interval:
                    last_lag = now
                    self._report_lag(consumer)
            clean = True
        finally:
            if clean and isinstance(self.stage, Checkpointed):
                self.stage.committed({}, final=True)
            consumer.close()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if isinstance(self.stage, Checkpointed):
            # Resume each partition where its restored state was saved, not at the commit.
            resume = self.stage.assigned([(p.topic, p.partition) for p in partitions])
            committed = self._committed(consumer, partitions) if resume else {}
            for tp in partitions:
                offset = resume.get((tp.topic, tp.partition))
                done = committed.get((tp.topic, tp.partition), -1)
                # A checkpoint past the group's commit is from an earlier life of the topic
                # (an in-memory broker restarted): keep the state, read from the commit.
                if offset is not None and 0 <= offset <= done:
                    tp.offset = offset
            consumer.assign(partitions)
        self.assigned = list(partitions)
        self.ready.set()
        log.info("stage %s assigned %s", self.stage.name,
                 [(p.topic, p.partition) for p in partitions],
                 extra={"event": "worker.assigned", "stage": self.stage.name,
                        "partitions": [f"{p.topic}:{p.partition}" for p in partitions]})

    def _committed(self, consumer: Consumer, partitions: list[TopicPartition]
                   ) -> dict[tuple[str, int], int]:
        try:
            found = consumer.committed([TopicPartition(p.topic, p.partition)
                                        for p in partitions], timeout=10)
        except KafkaException as exc:
            log.warning("stage %s: committed offsets unknown (%s)", self.stage.name, exc)
            return {}
        return {(tp.topic, tp.partition): tp.offset for tp in found}

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if isinstance(self.stage, Checkpointed):
            self.stage.revoked([(p.topic, p.partition) for p in partitions])
        self.assigned = []
        log.info("stage %s revoked %d partition(s)", self.stage.name, len(partitions),
                 extra={"event": "worker.revoked", "stage": self.stage.name,
                        "partitions": [f"{p.topic}:{p.partition}" for p in partitions]})

    def _accept(self, messages: Sequence[Message]) -> list[Incoming]:
        batch: list[Incoming] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("stage %s consume error: %s", self.stage.name, err)
                continue
            batch.append(
                Incoming(
                    topic=msg.topic() or "",
                    value=msg.value() or b"",
                    key=msg.key(),
                    partition=msg.partition() or 0,
                    offset=-1 if msg.offset() is None else int(msg.offset() or 0),
                )
            )
        return batch

    def _process(self, consumer: Consumer, batch: list[Incoming]) -> None:
        started = time.perf_counter()
        for topic, count in _count_by_topic(batch).items():
            self._metrics.consumed(self.stage.name, topic, count)
        result = handle_isolating(self.stage, batch)
        records = list(result.outputs)
        records.extend(dead_letter_record(self._dlq_topic, self.stage.name, d) for d in result.dead)
        self._publish(records)
        self.stage.published()
        for topic, count in _count_by_topic(result.dead_messages()).items():
            self._metrics.dead_lettered(self.stage.name, topic, count)
        offsets: dict[tuple[str, int], int] = {}
        for msg in batch:
            key = (msg.topic, msg.partition)
            offsets[key] = max(offsets.get(key, -1), msg.offset + 1)
        commit = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            consumer.commit(offsets=commit, asynchronous=False)
        except KafkaException as exc:
            # Typically a rebalance took the partition away: the new owner re-processes
            # from the last commit, which the stage's idempotence absorbs.
            log.warning("stage %s commit failed: %s", self.stage.name, exc)
        else:
            if isinstance(self.stage, Checkpointed):
                self.stage.committed(offsets)
        self._metrics.batch_latency(self.stage.name, time.perf_counter() - started)

    def _publish(self, records: Sequence[Record]) -> None:
        """Publish and wait for acknowledgement, retrying while the broker is away."""
        if not records:
            return
        for record in records:
            self._producer.send(record)
        delay = 0.5
        while True:
            try:
                self._producer.flush(10.0)
                break
            except BrokerUnavailableError as exc:
                if self._stop.is_set():
                    raise
                log.warning("stage %s: outputs not acknowledged (%s); retrying", self.stage.name,
                            exc.reason)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        for topic, count in _count_by_topic(records).items():
            self._metrics.produced(self.stage.name, topic, count)

    def _report_lag(self, consumer: Consumer) -> None:
        if not self.assigned:
            return
        try:
            positions = consumer.position(self.assigned)
            for tp in positions:
                _low, high = consumer.get_watermark_offsets(tp, timeout=1.0)
                position = tp.offset if tp.offset >= 0 else high
                self._metrics.lag(self.stage.name, tp.topic, tp.partition, max(0, high - position))
        except KafkaException as exc:
            log.debug("lag query failed: %s", exc)


def _count_by_topic(items: Sequence[Incoming] | Sequence[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.topic] = counts.get(item.topic, 0) + 1
    return counts
