"""What every JSON topic shape shares: parsing, label objects, text limits, schema names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from aiops.model import (
    DecodeError,
)

INCIDENT_SCHEMA = "aiops.incident/v1"
ACTION_SCHEMA = "aiops.action/v1"


def loads(data: bytes | str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"invalid JSON: {exc}") from exc


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _labels(raw: object, field: str = "labels") -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DecodeError(f"{field} must be an object of strings")
    return {str(k): str(v) for k, v in raw.items()}


#: the most bytes an alert's labels and annotations may take together; Alertmanager sets no
#: limit, but a label set of megabytes is a broken producer, and one such alert would make
#: every incident document holding it too large for the broker
MAX_ALERT_TEXT = 64 * 1024


def _clean_text(values: Mapping[str, str], field: str) -> int:
    """Refuse NUL characters (PostgreSQL text cannot hold them); the size in characters.

    >>> _clean_text({"a": "b" + chr(0)}, "labels")
    Traceback (most recent call last):
    ...
    aiops.model.errors.DecodeError: cannot decode record: labels.a holds a NUL character
    """
    size = 0
    for k, v in values.items():
        if "\x00" in k or "\x00" in v:
            raise DecodeError(f"{field}.{k.replace(chr(0), '?')[:100]} holds a NUL character")
        size += len(k) + len(v)
    return size


def _obj(raw: object, kind: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise DecodeError(f"a {kind} must be a JSON object, got {type(raw).__name__}")
    return raw
