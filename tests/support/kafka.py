"""Test helpers that read topics with a real consumer."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from streams.kafka import KafkaConfig


def read_topic(
    config: KafkaConfig, topic: str, *, expect: int, timeout: float = 30.0
) -> list[tuple[bytes | None, bytes]]:
    """Read ``topic`` from the beginning until ``expect`` messages or the timeout."""
    consumer = Consumer(config.consumer(f"reader-{uuid.uuid4().hex[:8]}"))
    consumer.subscribe([topic])
    out: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expect and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is None:
                    out.append((msg.key(), msg.value() or b""))
    finally:
        consumer.close()
    return out
