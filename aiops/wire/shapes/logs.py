"""Log records on the logs topic, in the engine's native shape (shippers' shapes go through
:mod:`aiops.wire.logmapping`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.model import (
    DecodeError,
    LogRecord,
)
from aiops.wire.shapes.base import (
    _labels,
    _obj,
    loads,
)
from aiops.wire.timefmt import parse_time


def log_from_dict(raw: object) -> LogRecord:
    obj = _obj(raw, "log record")
    ts = parse_time(obj.get("ts", obj.get("timestamp")), field="ts")
    if ts is None:
        raise DecodeError("log record needs 'ts'")
    message = obj.get("message")
    if not isinstance(message, str):
        raise DecodeError("log record needs a string 'message'")
    labels = _labels(obj.get("labels"))
    service = obj.get("service") or labels.get("service") or "unknown"
    return LogRecord(
        ts=ts,
        service=str(service),
        level=str(obj.get("level") or "info").lower(),
        message=message,
        labels=labels,
    )


def decode_logs(data: bytes | str) -> list[LogRecord]:
    obj = loads(data)
    if isinstance(obj, Mapping) and "records" in obj:
        return [log_from_dict(r) for r in obj["records"]]
    if isinstance(obj, list):
        return [log_from_dict(r) for r in obj]
    return [log_from_dict(obj)]


def log_to_dict(record: LogRecord) -> dict[str, Any]:
    return {
        "ts": record.ts,
        "service": record.service,
        "level": record.level,
        "message": record.message,
        "labels": dict(record.labels),
    }
