"""Dead-letter records: the original bytes, where they came from, and the reason.

A dead letter must itself fit the broker, or the stage that writes it would fail on the very
record it tries to set aside. The value is stored once (as text when it is UTF-8, else as
base64) and, when the record would exceed ``max_bytes``, cut to fit, with the original
size and its SHA-256 digest so the input can still be identified and matched.
"""

from __future__ import annotations

import base64
import hashlib
import time

import orjson

from streams.producer import Record
from streams.stage import DeadLetter, Incoming

#: librdkafka's default ``message.max.bytes``, which is also Kafka's default record limit
DEFAULT_MAX_BYTES = 1_000_000
_REASON_CHARS = 2000
_KEY_CHARS = 1000


def dead_letter_record(
    dlq_topic: str, stage: str, dead: DeadLetter, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> Record:
    """Encode a dead letter for the DLQ topic, keeping the input byte for byte if it fits.

    >>> from streams.stage import DeadLetter, Incoming
    >>> big = DeadLetter(Incoming("aiops.alerts", b"x" * 50_000), "too big")
    >>> rec = dead_letter_record("aiops.dlq", "correlate", big, max_bytes=10_000)
    >>> doc = orjson.loads(rec.value)
    >>> len(rec.value) <= 10_000, doc["truncated"], doc["size"], len(doc["sha256"])
    (True, True, 50000, 64)
    """
    msg = dead.message
    reason = dead.reason[:_REASON_CHARS]
    body: dict[str, object] = {
        "stage": stage,
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "reason": reason,
        "ts": time.time(),
        "key": msg.key[:_KEY_CHARS].decode("utf-8", "replace") if msg.key is not None else None,
        "size": len(msg.value),
        "sha256": hashlib.sha256(msg.value).hexdigest(),
        "truncated": False,
    }
    try:
        text: str | None = msg.value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    field = "value" if text is not None else "value_b64"
    full = text if text is not None else base64.b64encode(msg.value).decode()
    body[field] = full
    encoded = orjson.dumps(body)
    budget = max_bytes - 1024  # headers, key and the record's own framing
    if len(encoded) > budget:
        body["truncated"] = True
        keep = max(0, budget - (len(encoded) - len(full)))
        while True:
            body[field] = full[:keep]
            encoded = orjson.dumps(body)
            if len(encoded) <= budget or keep == 0:
                break
            keep = keep // 2  # escaped characters took more room than counted
    key = msg.key[:_KEY_CHARS] if msg.key is not None else None
    return Record(
        topic=dlq_topic,
        key=key,
        value=encoded,
        headers=(("aiops-reason", reason.encode()[:1000]), ("aiops-stage", stage.encode())),
    )


def oversized_output(record: Record, stage: str, limit: int) -> DeadLetter:
    """A dead letter standing for an output too large to publish (``record`` itself is not
    sent: the dead letter carries its start, size and digest)."""
    reason = (f"output to {record.topic} of {len(record.value)} bytes exceeds the producer's "
              f"message.max.bytes ({limit})")
    return DeadLetter(Incoming(topic=record.topic, value=record.value, key=record.key), reason)
