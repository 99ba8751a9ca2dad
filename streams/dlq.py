"""Dead-letter records: the original bytes, where they came from, and the reason."""

from __future__ import annotations

import base64
import time

import orjson

from streams.producer import Record
from streams.stage import DeadLetter


def dead_letter_record(dlq_topic: str, stage: str, dead: DeadLetter) -> Record:
    """Encode a dead letter for the DLQ topic, keeping the input byte for byte."""
    msg = dead.message
    body: dict[str, object] = {
        "stage": stage,
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "reason": dead.reason,
        "ts": time.time(),
        "key": msg.key.decode("utf-8", "replace") if msg.key is not None else None,
        "value_b64": base64.b64encode(msg.value).decode(),
    }
    try:
        body["value"] = msg.value.decode("utf-8")
    except UnicodeDecodeError:
        body["value"] = None
    return Record(
        topic=dlq_topic,
        key=msg.key,
        value=orjson.dumps(body),
        headers=(("aiops-reason", dead.reason.encode()[:1000]), ("aiops-stage", stage.encode())),
    )
