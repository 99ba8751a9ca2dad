"""A confluent-kafka producer that knows when its records are durably on the broker.

The HTTP receivers answer 2xx only after :meth:`EventProducer.publish` returns, and the stage
runner commits its input offsets only after the outputs are flushed: this is what makes the
pipeline at-least-once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from aiops.model import BrokerUnavailableError
from streams.kafka import ClientConf, KafkaConfig


@dataclass(frozen=True, slots=True)
class Record:
    """One message to write: topic, key and already-encoded value."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    #: an explicit partition (commands sent to every partition); None: by key
    partition: int | None = None


_DeliveryCallback = Callable[[KafkaError | None, Message], None]

#: delivery errors that resending cannot fix: the record itself is refused
PERMANENT_ERRORS = frozenset({
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.INVALID_MSG_SIZE,
    KafkaError.INVALID_MSG,
    KafkaError.INVALID_RECORD,
    KafkaError.RECORD_LIST_TOO_LARGE,
    KafkaError.POLICY_VIOLATION,
    KafkaError._INVALID_ARG,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
})

#: bytes a record needs beyond key, value and headers (record and batch framing)
RECORD_OVERHEAD = 512


def record_size(record: Record) -> int:
    """The bytes ``record`` counts for against ``message.max.bytes`` (with framing)."""
    return (len(record.value) + len(record.key or b"") + RECORD_OVERHEAD
            + sum(len(k) + len(v) for k, v in record.headers))


@dataclass
class Outcome:
    """What became of the records of one :meth:`EventProducer.deliver` call."""

    #: refused for good (too large, invalid): resending cannot help
    refused: list[tuple[Record, str]] = field(default_factory=list)
    #: not acknowledged (broker away, timeout): send again
    failed: list[tuple[Record, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.failed


class _Tracker:
    """Per-record delivery reports of one :meth:`EventProducer.deliver` call."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.pending = 0
        self._lock = threading.Lock()

    def callback(self, record: Record) -> _DeliveryCallback:
        with self._lock:
            self.pending += 1

        def report(err: KafkaError | None, _msg: Message) -> None:
            with self._lock:
                self.pending -= 1
                if err is None:
                    return
                if err.code() in PERMANENT_ERRORS:
                    self.outcome.refused.append((record, str(err)))
                else:
                    self.outcome.failed.append((record, str(err)))

        return report


class _Delivery:
    """Delivery reports of one :meth:`EventProducer.publish` call."""

    def __init__(self, count: int) -> None:
        self.pending = count
        self.errors: list[str] = []
        self.done = threading.Event()
        self._lock = threading.Lock()

    def report(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if err is not None:
                self.errors.append(str(err))
            self.pending -= 1
            if self.pending <= 0:
                self.done.set()


class EventProducer:
    """Thin, synchronous-on-demand wrapper over :class:`confluent_kafka.Producer`."""

    def __init__(self, config: KafkaConfig, *, overrides: ClientConf | None = None) -> None:
        self._producer = Producer(config.producer(**(overrides or {})))
        self._errors: list[str] = []
        self._poller: threading.Thread | None = None
        self._poller_lock = threading.Lock()
        self._closed = threading.Event()

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, record: Record, on_delivery: _DeliveryCallback | None = None) -> None:
        """Queue one record; delivery is confirmed by :meth:`flush`."""
        while True:
            try:
                if record.partition is None:
                    self._producer.produce(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        headers=list(record.headers) or None,
                        on_delivery=on_delivery or self._on_delivery,
                    )
                else:
                    self._producer.produce(
                        record.topic,
                        value=record.value,
                        key=record.key,
                        partition=record.partition,
                        headers=list(record.headers) or None,
                        on_delivery=on_delivery or self._on_delivery,
                    )
                return
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                self._producer.poll(0.1)

    def deliver(
        self, records: Sequence[Record], *, max_bytes: int,
        stop: Callable[[], bool] = lambda: False,
    ) -> Outcome:
        """Send ``records`` and wait for a delivery report on every one of them.

        Unlike :meth:`flush` this never raises for one bad record: a record larger than
        ``max_bytes`` (or that the broker refuses) is returned in ``refused`` without being
        retried, one the broker did not acknowledge in ``failed``, and the caller decides
        (the stage runner dead-letters the first kind and resends the second). Returns early,
        with the records still in flight counted as failed, only when ``stop()`` is true.
        """
        outcome = Outcome()
        tracker = _Tracker(outcome)
        for record in records:
            if record_size(record) > max_bytes:
                outcome.refused.append(
                    (record, f"record of {record_size(record)} bytes exceeds {max_bytes}"))
                continue
            try:
                self.send(record, tracker.callback(record))
            except KafkaException as exc:
                tracker.pending -= 1
                err = exc.args[0] if exc.args else None
                if isinstance(err, KafkaError) and err.code() not in PERMANENT_ERRORS:
                    outcome.failed.append((record, str(exc)))
                else:
                    outcome.refused.append((record, str(exc)))
        # Every sent record gets exactly one report (success, error, or a local timeout
        # after message.timeout.ms), so waiting for all of them never resends a record
        # that may still be delivered.
        while tracker.pending > 0:
            self._producer.flush(1.0)
            if tracker.pending > 0 and stop():
                outcome.failed.append((Record("", None, b""),
                                       f"{tracker.pending} record(s) in flight at stop"))
                break
            if tracker.pending > 0:
                time.sleep(0.01)
        return outcome

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued record is acknowledged, or raise.

        Raises :class:`BrokerUnavailableError` when a record failed or the timeout passed.
        """
        remaining = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if remaining:
            raise BrokerUnavailableError(f"{remaining} record(s) not acknowledged in {timeout}s")
        if errors:
            raise BrokerUnavailableError(f"{len(errors)} record(s) failed: {errors[0]}")

    def publish(self, records: Sequence[Record], timeout: float = 10.0) -> None:
        """Send ``records`` and return only when all of *them* are on the broker.

        Safe to call from many threads at once (the HTTP receivers do): each call tracks
        the delivery reports of its own records, so it neither waits for other requests'
        records nor picks up their failures.
        """
        if not records:
            return
        tracker = _Delivery(len(records))
        self._ensure_poller()
        for record in records:
            self.send(record, tracker.report)
        if not tracker.done.wait(timeout):
            raise BrokerUnavailableError(
                f"{tracker.pending} record(s) not acknowledged in {timeout}s"
            )
        if tracker.errors:
            raise BrokerUnavailableError(
                f"{len(tracker.errors)} record(s) failed: {tracker.errors[0]}"
            )

    def _ensure_poller(self) -> None:
        """Serve delivery reports on one background thread, so that each waiting request
        wakes as soon as its own records are acknowledged."""
        with self._poller_lock:
            if self._poller is None:
                self._poller = threading.Thread(target=self._poll_forever,
                                                name="producer-poll", daemon=True)
                self._poller.start()

    def _poll_forever(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    def ping(self, timeout: float = 2.0) -> None:
        """Raise :class:`BrokerUnavailableError` unless the cluster answers a metadata call."""
        try:
            self._producer.list_topics(timeout=timeout)
        except Exception as exc:
            raise BrokerUnavailableError(str(exc)) from exc

    def partitions(self, topic: str, timeout: float = 5.0) -> int:
        """How many partitions ``topic`` has (0 when the cluster does not know it)."""
        try:
            meta = self._producer.list_topics(topic, timeout=timeout)
        except Exception as exc:
            raise BrokerUnavailableError(str(exc)) from exc
        found = meta.topics.get(topic)
        return 0 if found is None or found.error is not None else len(found.partitions)

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run: the client is released."""
        return self._closed.is_set()

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout``), then release the client: a producer
        left open keeps reconnecting, and logging about it, after its broker is gone."""
        if self._closed.is_set():
            return
        self._producer.flush(timeout)
        self._closed.set()
        if self._poller is not None:
            self._poller.join(1.0)
        release = getattr(self._producer, "close", None)  # confluent-kafka >= 2.11
        if release is not None:
            release()
