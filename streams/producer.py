"""A confluent-kafka producer that knows when its records are durably on the broker.

The HTTP receivers answer 2xx only after :meth:`EventProducer.publish` returns, and the stage
runner commits its input offsets only after the outputs are flushed: this is what makes the
pipeline at-least-once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer

from aiops.model import BrokerUnavailableError
from streams.kafka import ClientConf, KafkaConfig


@dataclass(frozen=True, slots=True)
class Record:
    """One message to write: topic, key and already-encoded value."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class EventProducer:
    """Thin, synchronous-on-demand wrapper over :class:`confluent_kafka.Producer`."""

    def __init__(self, config: KafkaConfig, *, overrides: ClientConf | None = None) -> None:
        self._producer = Producer(config.producer(**(overrides or {})))
        self._errors: list[str] = []

    def _on_delivery(self, err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            self._errors.append(str(err))

    def send(self, record: Record) -> None:
        """Queue one record; delivery is confirmed by :meth:`flush`."""
        while True:
            try:
                self._producer.produce(
                    record.topic,
                    value=record.value,
                    key=record.key,
                    headers=list(record.headers) or None,
                    on_delivery=self._on_delivery,
                )
                return
            except BufferError:
                # Local queue full: serve delivery reports to make room, then retry.
                self._producer.poll(0.1)

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
        """Send ``records`` and return only when all of them are on the broker."""
        for record in records:
            self.send(record)
        self.flush(timeout)

    def ping(self, timeout: float = 2.0) -> None:
        """Raise :class:`BrokerUnavailableError` unless the cluster answers a metadata call."""
        try:
            self._producer.list_topics(timeout=timeout)
        except Exception as exc:
            raise BrokerUnavailableError(str(exc)) from exc

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.flush(timeout)
