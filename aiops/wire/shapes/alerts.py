"""Alerts on the alerts topic, in Alertmanager's alert object shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.model import (
    Alert,
    AlertStatus,
    DecodeError,
)
from aiops.wire.shapes.base import (
    MAX_ALERT_TEXT,
    _clean_text,
    _labels,
    _obj,
    dumps,
    loads,
)
from aiops.wire.timefmt import format_time, parse_time


def alert_from_dict(raw: object) -> Alert:
    obj = _obj(raw, "alert")
    labels = _labels(obj.get("labels"))
    if not labels:
        raise DecodeError("alert needs a non-empty 'labels' object")
    annotations = _labels(obj.get("annotations"), "annotations")
    size = _clean_text(labels, "labels") + _clean_text(annotations, "annotations")
    if size > MAX_ALERT_TEXT:
        raise DecodeError(f"alert labels and annotations take {size} characters, "
                          f"more than {MAX_ALERT_TEXT}")
    starts_at = parse_time(obj.get("startsAt"), field="startsAt")
    ends_at = parse_time(obj.get("endsAt"), field="endsAt")
    status_raw = obj.get("status") or "firing"
    if isinstance(status_raw, Mapping):  # Alertmanager API v2 gettable alert
        status_raw = "resolved" if status_raw.get("state") == "inactive" else "firing"
    try:
        status = AlertStatus(status_raw)
    except ValueError as exc:
        raise DecodeError(f"alert status {status_raw!r} is neither firing nor resolved") from exc
    if starts_at is None:
        if ends_at is None:
            raise DecodeError("alert needs 'startsAt'")
        starts_at = ends_at
    fingerprint = obj.get("fingerprint") or ""
    if not isinstance(fingerprint, str):
        raise DecodeError("fingerprint must be a string")
    if len(fingerprint) > 32:
        raise DecodeError(f"fingerprint of {len(fingerprint)} characters, more than 32")
    generator_url = str(obj.get("generatorURL") or "")
    if _clean_text({"fingerprint": fingerprint, "generatorURL": generator_url}, "alert") > 8192:
        raise DecodeError("alert fingerprint and generatorURL take more than 8192 characters")
    return Alert(
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=generator_url,
        status=status,
        fingerprint=fingerprint,
    )


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": format_time(alert.starts_at),
        "endsAt": format_time(alert.ends_at),
        "generatorURL": alert.generator_url,
        "status": alert.status.value,
        "fingerprint": alert.fingerprint,
    }


def decode_alert(data: bytes | str) -> Alert:
    return alert_from_dict(loads(data))


def encode_alert(alert: Alert) -> bytes:
    return dumps(alert_to_dict(alert))


def alert_key(alert: Alert) -> bytes:
    """Partition key of an alert: its service, so one service's alerts stay in order."""
    return alert.service.encode()
