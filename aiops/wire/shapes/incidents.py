"""Incident documents, ``aiops.incident/v1`` (see ``docs/incident.schema.json``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiops.model import (
    DecodeError,
    Incident,
    IncidentStatus,
    RootCause,
    TimelineEntry,
)
from aiops.wire.shapes.alerts import alert_from_dict, alert_to_dict
from aiops.wire.shapes.base import (
    INCIDENT_SCHEMA,
    _obj,
    dumps,
    loads,
)
from aiops.wire.timefmt import format_time, parse_time


def incident_to_dict(incident: Incident) -> dict[str, Any]:
    return {
        "schema": INCIDENT_SCHEMA,
        "id": incident.id,
        "version": incident.version,
        "status": incident.status.value,
        "title": incident.title,
        "severity": incident.severity,
        "opened_at": format_time(incident.opened_at),
        "updated_at": format_time(incident.updated_at),
        "resolved_at": format_time(incident.resolved_at),
        "services": list(incident.services),
        "root_causes": [
            {"service": rc.service, "score": rc.score, "evidence": list(rc.evidence)}
            for rc in incident.root_causes
        ],
        "alerts": [alert_to_dict(a) for a in incident.alerts],
        "changes": [alert_to_dict(a) for a in incident.changes],
        "timeline": [
            {
                "ts": format_time(t.ts),
                "event": t.event,
                "status": t.status.value,
                "actor": t.actor,
                "note": t.note,
            }
            for t in incident.timeline
        ],
    }


def _required_time(obj: Mapping[str, Any], key: str) -> float:
    ts = parse_time(obj.get(key), field=key)
    if ts is None:
        raise DecodeError(f"incident needs {key!r}")
    return ts


def incident_from_dict(raw: object) -> Incident:
    obj = _obj(raw, "incident")
    schema = obj.get("schema")
    if schema != INCIDENT_SCHEMA:
        raise DecodeError(f"unsupported incident schema {schema!r}, expected {INCIDENT_SCHEMA}")
    try:
        return Incident(
            id=str(obj["id"]),
            version=int(obj.get("version", 1)),
            status=IncidentStatus(obj["status"]),
            title=str(obj.get("title", "")),
            severity=str(obj.get("severity", "warning")),
            opened_at=_required_time(obj, "opened_at"),
            updated_at=_required_time(obj, "updated_at"),
            resolved_at=parse_time(obj.get("resolved_at"), field="resolved_at"),
            services=tuple(str(s) for s in obj.get("services", [])),
            root_causes=tuple(
                RootCause(
                    service=str(rc["service"]),
                    score=float(rc["score"]),
                    evidence=tuple(str(e) for e in rc.get("evidence", [])),
                )
                for rc in obj.get("root_causes", [])
            ),
            alerts=tuple(alert_from_dict(a) for a in obj.get("alerts", [])),
            changes=tuple(alert_from_dict(a) for a in obj.get("changes", [])),
            timeline=tuple(
                TimelineEntry(
                    ts=parse_time(t["ts"], field="timeline.ts") or 0.0,
                    event=str(t["event"]),
                    status=IncidentStatus(t["status"]),
                    actor=str(t.get("actor", "engine")),
                    note=str(t.get("note", "")),
                )
                for t in obj.get("timeline", [])
            ),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed incident: {exc!r}") from exc


def encode_incident(incident: Incident) -> bytes:
    return dumps(incident_to_dict(incident))


def decode_incident(data: bytes | str) -> Incident:
    return incident_from_dict(loads(data))
