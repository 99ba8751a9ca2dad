"""The at-least-once consume loop around a :class:`~streams.stage.Stage` (confluent-kafka).

Per batch: consume up to ``max_batch`` messages, hand them to the stage, publish its outputs
and dead letters, wait until the broker has acknowledged all of them, and only then commit
the input offsets. A crash anywhere before the commit means the batch is redelivered, so
stages must be idempotent (they are: dedup by fingerprint and by incident version).

Nothing one record does kills the loop:

* a record that makes the stage raise is retried alone and, if it fails again, goes to the
  dead-letter topic with the exception as the reason; a stage that keeps state rolls it back
  (``rollback``) before each retry, so no record is applied twice
  (:func:`streams.isolation.handle_isolating`);
* every other entry point (``start``, ``idle``, ``published`` and the assignment hooks) is
  guarded: an exception is logged and counted, and the loop goes on (``start`` is retried);
* an output the broker cannot take (larger than ``message.max.bytes``, or refused) is
  dead-lettered in a truncated form with its size and digest, never resent in a loop;
  outputs the broker did not acknowledge (it is away) are resent until it is back
  (:class:`streams.outputs.OutputPublisher`).

A watchdog (:class:`streams.watchdog.GroupWatchdog`) notices a partition of the member's
topics, held by no live member, with a backlog nobody consumes (the group's committed offset
stands still below the end), which is what a stranded rebalance looks like on the local
broker, and mends the group (then backs off, so members never livelock each other's
rebalances).

Stages may implement assignment hooks, all optional: ``on_assign(partitions)``,
``on_revoke(partitions)`` (lists of ``(topic, partition)``) and ``on_commit(offsets)``
(``(topic, partition, next offset)`` after a successful commit).

Why not a faust agent on the hot path: faust hands events one at a time through asyncio
(a few thousand per second per worker on these machines), while this loop moves batches of
thousands of messages per librdkafka call. ``streams.faust_app`` runs the same stages as faust
agents for deployments that prefer faust's tooling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from streams.isolation import count_by_topic, handle_isolating
from streams.kafka import KafkaConfig
from streams.outputs import OutputPublisher
from streams.producer import EventProducer
from streams.stage import (
    Checkpointed,
    Incoming,
    NullMetrics,
    Stage,
    StageMetrics,
)
from streams.watchdog import GroupWatchdog

log = logging.getLogger(__name__)

__all__ = ["StageRunner", "handle_isolating"]


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
        watchdog_interval: float = 5.0,
        stall_after: float = 30.0,
        idle_stall_after: float = 12.0,
    ) -> None:
        self.stage = stage
        self._config = config
        self._group_id = group_id
        self._metrics: StageMetrics = metrics or NullMetrics()
        self._max_batch = max_batch
        self._poll_timeout = poll_timeout
        self._idle_interval = idle_interval
        self._lag_interval = lag_interval
        self._auto_offset_reset = auto_offset_reset
        self._watchdog_interval = watchdog_interval
        self._stop = threading.Event()
        self._own_producer = producer is None  # closed when the loop ends
        self._producer = producer or EventProducer(config)
        self._outputs = OutputPublisher(stage.name, self._producer,
                                        dlq_topic=dlq_topic,
                                        max_bytes=config.max_message_bytes,
                                        metrics=self._metrics, stop=self._stop)
        self.ready = threading.Event()
        self.assigned: list[TopicPartition] = []
        self._unassigned_since: float | None = time.monotonic()
        self._group_watch = GroupWatchdog(config, group_id, stall_after=stall_after,
                                          idle_stall_after=idle_stall_after)
        self._errors = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def errors(self) -> int:
        """Entry points that raised and outputs the broker refused, so far."""
        return self._errors + self._outputs.errors

    @property
    def rejoins(self) -> int:
        """How often the watchdog mended this member's group."""
        return self._group_watch.rejoins

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def status(self) -> dict[str, Any]:
        """For readiness: the partitions held, and for how long none has been."""
        since = self._unassigned_since
        return {
            "stage": self.stage.name,
            "partitions": [(p.topic, p.partition) for p in self.assigned],
            "unassigned_s": None if since is None else round(time.monotonic() - since, 1),
            "rejoins": self.rejoins,
            "errors": self.errors,
        }

    # ------------------------------------------------------------------ loop

    def run(self) -> None:
        consumer = Consumer(self._config.consumer(self._group_id,
                                                  auto_offset_reset=self._auto_offset_reset))
        self._subscribe(consumer)
        clean = False
        try:
            self._start()
            last_idle = last_lag = last_watch = time.monotonic()
            while not self._stop.is_set():
                messages = consumer.consume(self._max_batch, self._poll_timeout)
                now = time.monotonic()
                batch = self._accept(messages)
                if batch:
                    self._process(consumer, batch)
                if now - last_idle >= self._idle_interval:
                    last_idle = now
                    self._idle()
                if now - last_lag >= self._lag_interval:
                    last_lag = now
                    self._report_lag(consumer)
                if now - last_watch >= self._watchdog_interval:
                    last_watch = now
                    self._watchdog(consumer)
            clean = True
        finally:
            if clean and isinstance(self.stage, Checkpointed):
                self.stage.committed({}, final=True)
            consumer.close()
            if self._own_producer:
                self._producer.close()

    def _subscribe(self, consumer: Consumer) -> None:
        consumer.subscribe(self.stage.topics(), on_assign=self._on_assign,
                           on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _start(self) -> None:
        """Recover the stage; retried (never fatal) while the store or broker is away."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._outputs.publish(self.stage.start())
                self._guard("published", self.stage.published)
                return
            except Exception:
                self._errors += 1
                log.exception("stage %s: start failed; retrying in %.1fs", self.stage.name, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _idle(self) -> None:
        try:
            outputs = self.stage.idle(time.time())
        except Exception:
            self._errors += 1
            log.exception("stage %s: idle timers failed; going on", self.stage.name)
            return
        if outputs:
            self._outputs.publish(outputs)
            self._guard("published", self.stage.published)

    def _guard(self, what: str, call: Callable[..., object], *args: object) -> None:
        try:
            call(*args)
        except Exception:
            self._errors += 1
            log.exception("stage %s: %s failed; going on", self.stage.name, what)

    def _hook(self, name: str, *args: object) -> None:
        hook = getattr(self.stage, name, None)
        if hook is not None:
            self._guard(name, hook, *args)

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
        self._unassigned_since = None if partitions else time.monotonic()
        log.info("stage %s assigned %s", self.stage.name,
                 [(p.topic, p.partition) for p in partitions],
                 extra={"event": "worker.assigned", "stage": self.stage.name,
                        "partitions": [f"{p.topic}:{p.partition}" for p in partitions]})
        self._hook("on_assign", [(p.topic, p.partition) for p in partitions])
        self.ready.set()

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
            self._guard("revoked", self.stage.revoked,
                        [(p.topic, p.partition) for p in partitions])
        self.assigned = []
        self._unassigned_since = time.monotonic()
        log.info("stage %s revoked %d partition(s)", self.stage.name, len(partitions),
                 extra={"event": "worker.revoked", "stage": self.stage.name,
                        "partitions": [f"{p.topic}:{p.partition}" for p in partitions]})
        self._hook("on_revoke", [(p.topic, p.partition) for p in partitions])

    def _accept(self, messages: Sequence[Message]) -> list[Incoming]:
        batch: list[Incoming] = []
        held = {(p.topic, p.partition) for p in self.assigned}
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("stage %s consume error: %s", self.stage.name, err)
                continue
            if (msg.topic(), msg.partition()) not in held:
                # fetched before a rebalance took the partition away: its new owner reads
                # it from the last commit, and this stage has forgotten its state
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
        for topic, count in count_by_topic(batch).items():
            self._metrics.consumed(self.stage.name, topic, count)
        result = handle_isolating(self.stage, batch)
        records = list(result.outputs)
        records.extend(self._outputs.dead_letter(d) for d in result.dead)
        self._outputs.publish(records)
        self._guard("published", self.stage.published)
        for topic, count in count_by_topic(result.dead_messages()).items():
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
                self._guard("committed", self.stage.committed, offsets)
            self._hook("on_commit", [(t, p, o) for (t, p), o in offsets.items()])
        self._metrics.batch_latency(self.stage.name, time.perf_counter() - started)

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

    # ------------------------------------------------------------------ watchdog

    def _watchdog(self, consumer: Consumer) -> None:
        """See :class:`streams.watchdog.GroupWatchdog`: a partition of this member's topics
        that nobody consumes gets its group mended."""
        self._group_watch.check(consumer, self.stage.topics(), self.assigned, time.monotonic(),
                                lambda: self._subscribe(consumer))
