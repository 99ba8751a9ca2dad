"""Incident commands (ack, resolve, ...) that travel on the alerts topic beside alerts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.model import (
    Alert,
    CommandKind,
    DecodeError,
    IncidentCommand,
)
from aiops.wire.shapes.alerts import alert_from_dict
from aiops.wire.shapes.base import (
    _clean_text,
    _obj,
    loads,
)
from aiops.wire.timefmt import parse_time


def command_to_dict(command: IncidentCommand) -> dict[str, Any]:
    return {
        "command": command.kind.value,
        "incident_id": command.incident_id,
        "ts": command.ts,
        "actor": command.actor,
        "note": command.note,
    }


def command_from_dict(raw: object) -> IncidentCommand:
    obj = _obj(raw, "command")
    try:
        kind = CommandKind(obj["command"])
    except (KeyError, ValueError) as exc:
        raise DecodeError(f"unknown incident command {obj.get('command')!r}") from exc
    ts = parse_time(obj.get("ts"), field="ts")
    if ts is None or not obj.get("incident_id"):
        raise DecodeError("an incident command needs 'incident_id' and 'ts'")
    _clean_text({"incident_id": str(obj["incident_id"]), "actor": str(obj.get("actor") or ""),
                 "note": str(obj.get("note") or "")}, "command")
    return IncidentCommand(
        incident_id=str(obj["incident_id"]),
        kind=kind,
        ts=ts,
        actor=str(obj.get("actor") or "api"),
        note=str(obj.get("note") or ""),
    )


def decode_alert_or_command(data: bytes | str) -> Alert | IncidentCommand:
    """The correlator's input topic carries alerts and, from the API, incident commands."""
    obj = loads(data)
    if isinstance(obj, Mapping) and "command" in obj:
        return command_from_dict(obj)
    return alert_from_dict(obj)
