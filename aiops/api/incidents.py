"""The incident API: list, get, acknowledge, resolve; and the remediation audit trail.

Acknowledge and resolve do not write the incident themselves: the correlator is the single
writer of incidents, so the API sends it a command through the alerts topic and waits briefly
for the new version to be stored (200), answering 202 if it has not landed yet.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from aiops.api.deps import ApiDeps, deps
from aiops.api.edge import MAX_OFFSET, Name, Text
from aiops.api.receivers import _publish
from aiops.model import CommandKind, DecodeError, IncidentCommand, IncidentStatus, NotFoundError
from aiops.wire.shapes import action_to_dict, command_to_dict, dumps, incident_to_dict
from aiops.wire.timefmt import checked_time, parse_time
from streams.producer import Record

router = APIRouter(prefix="/api/v1", tags=["incidents"])


class ChangeRequest(BaseModel):
    actor: Name = "api"
    note: Text = ""


def _time_param(raw: str | None, name: str) -> float | None:
    """A query parameter given as epoch seconds or RFC 3339."""
    if raw is None:
        return None
    value: float | None
    try:
        value = float(raw)
    except ValueError:
        try:
            value = parse_time(raw, field=name)
        except DecodeError as exc:
            raise HTTPException(422, f"{name}: expected RFC 3339 or epoch seconds") from exc
    try:
        return checked_time(value, name)
    except DecodeError as exc:
        raise HTTPException(422, exc.reason) from exc


@router.get("/incidents")
def list_incidents(
    status: IncidentStatus | None = None,
    service: str | None = None,
    severity: str | None = None,
    since: str | None = Query(None, description="RFC 3339 or epoch seconds"),
    until: str | None = Query(None, description="RFC 3339 or epoch seconds"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    found = api.store.list_incidents(
        status=status.value if status else None,
        service=service,
        severity=severity,
        since=_time_param(since, "since"),
        until=_time_param(until, "until"),
        limit=limit,
        offset=offset,
    )
    return {"incidents": [incident_to_dict(i) for i in found], "limit": limit, "offset": offset}


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: str, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    try:
        return incident_to_dict(api.store.get_incident(incident_id))
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


async def _change(
    incident_id: str, kind: CommandKind, body: ChangeRequest, api: ApiDeps
) -> Any:
    from fastapi.responses import JSONResponse

    try:
        current = api.store.get_incident(incident_id)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    if current.status == IncidentStatus.RESOLVED:
        raise HTTPException(409, f"incident {incident_id} is already resolved")
    if kind == CommandKind.ACKNOWLEDGE and current.status == IncidentStatus.ACKNOWLEDGED:
        return incident_to_dict(current)
    command = IncidentCommand(incident_id, kind, time.time(), body.actor, body.note)
    record = Record(api.topics.alerts, current.services[0].encode() if current.services else None,
                    dumps(command_to_dict(command)))
    await _publish(api, [record], "incidents")
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        latest = api.store.get_incident(incident_id)
        if latest.version > current.version:
            return incident_to_dict(latest)
    return JSONResponse(status_code=202, content={"accepted": command_to_dict(command)})


@router.post("/incidents/{incident_id}/{change}")
async def change_incident(
    request: Request,
    incident_id: str,
    change: CommandKind,
    body: ChangeRequest | None = None,
    api: ApiDeps = Depends(deps),
) -> Any:
    """``acknowledge`` or ``resolve`` an incident, on behalf of ``actor``."""
    return await _change(incident_id, change, body or ChangeRequest(), api)


@router.get("/actions")
def list_actions(
    incident_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    actions = api.store.list_actions(incident_id, limit=limit)
    return {"actions": [action_to_dict(a) for a in actions]}
