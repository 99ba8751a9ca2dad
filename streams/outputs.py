"""Publishing a stage's outputs: acknowledged, resent while the broker is away, and
dead-lettered (truncated, with size and digest) when the broker refuses them for good.

One output never stops a worker: a record too large for the broker becomes a dead letter
that fits, and a dead letter that is itself refused is logged, counted and dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from streams.dlq import dead_letter_record, oversized_output
from streams.isolation import count_by_topic
from streams.producer import EventProducer, Record
from streams.stage import DeadLetter, Incoming, StageMetrics

log = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised out of :meth:`OutputPublisher.publish` when stopping with outputs in flight, so
    the input is not committed (it is redelivered to the next owner)."""


class OutputPublisher:
    """Publishes for one stage, on its producer, to its dead-letter topic."""

    def __init__(self, stage_name: str, producer: EventProducer, *, dlq_topic: str,
                 max_bytes: int, metrics: StageMetrics, stop: threading.Event) -> None:
        self._stage = stage_name
        self._producer = producer
        self._dlq_topic = dlq_topic
        self._max_bytes = max_bytes
        self._metrics = metrics
        self._stop = stop
        self.errors = 0

    def dead_letter(self, dead: DeadLetter) -> Record:
        return dead_letter_record(self._dlq_topic, self._stage, dead, max_bytes=self._max_bytes)

    def publish(self, records: Sequence[Record]) -> None:
        """Publish and wait for acknowledgement.

        Records the broker did not acknowledge are resent (with backoff) while it is away;
        records it refuses for good are dead-lettered in a truncated form, and a dead letter
        that is itself refused is logged and counted: one output never stops the loop.
        """
        pending = list(records)
        delay = 0.5
        while pending:
            outcome = self._producer.deliver(pending, max_bytes=self._max_bytes,
                                             stop=self._stop.is_set)
            missed = {id(r) for r, _ in (*outcome.refused, *outcome.failed)}
            for topic, count in count_by_topic(
                    [r for r in pending if id(r) not in missed]).items():
                self._metrics.produced(self._stage, topic, count)
            pending = []
            for record, reason in outcome.refused:
                self.errors += 1
                if record.topic == self._dlq_topic:
                    log.error("stage %s: dead letter refused by the broker (%s); dropped",
                              self._stage, reason)
                    continue
                log.error("stage %s: output to %s refused (%s); dead-lettered",
                          self._stage, record.topic, reason)
                pending.append(self.dead_letter(
                    oversized_output(record, self._stage, self._max_bytes)
                    if "exceeds" in reason or "SIZE" in reason
                    else DeadLetter(_as_incoming(record), f"output refused: {reason}")))
                self._metrics.dead_lettered(self._stage, record.topic, 1)
            failed = [record for record, _ in outcome.failed if record.topic]
            if failed:
                if self._stop.is_set():
                    raise Stopped(f"{len(failed)} output(s) not acknowledged at stop")
                log.warning("stage %s: %d output(s) not acknowledged (%s); retrying",
                            self._stage, len(failed), outcome.failed[0][1])
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
                pending.extend(failed)


def _as_incoming(record: Record) -> Incoming:
    return Incoming(topic=record.topic, value=record.value, key=record.key)
