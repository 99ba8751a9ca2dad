"""Silences and maintenance windows: create, list, expire (Alertmanager's v2 shapes).

The store keeps them (so they survive restarts and the correlate stage reloads them on
start); the correlator, which owns the alert state, hears of each change through the alerts
topic, where it is ordered with the alerts: an alert accepted after the API answered is
judged with the change in force. The API answers only once the change is on the broker; if
the broker did not take a new silence it is not kept either (503, retry).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_json
from aiops.model import NotFoundError
from aiops.silences import (
    SilenceError,
    SilenceSpec,
    parse_silence,
    silence_message,
    silence_to_dict,
)
from aiops.storage.silences import SilenceStore
from streams.producer import Record

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])

#: The key of silence messages on the alerts topic (one key: they stay in order).
SILENCE_KEY = b"silence"


def _store(api: ApiDeps) -> SilenceStore:
    return SilenceStore(api.store.engine)


async def _announce(api: ApiDeps, spec: SilenceSpec) -> None:
    record = Record(api.topics.alerts, SILENCE_KEY, silence_message(spec))
    await _publish(api, [record], "silences")


@router.post(
    "",
    status_code=201,
    openapi_extra=schemas.SILENCE,
    responses={
        422: {"description": "Bad matchers or times; the reason is in 'detail'."},
        503: {"description": "The broker did not take the silence; nothing was kept."},
    },
)
async def create_silence(request: Request, api: ApiDeps = Depends(deps)) -> Any:
    """Create a silence (``matchers``: Alertmanager matcher strings such as
    ``service=~"db-.*"`` or objects ``{name, value, isRegex, isEqual}``; ``startsAt``
    (default now), ``endsAt``, ``createdBy``, ``comment``). With the ``id`` of a silence
    that has not expired, that silence is replaced."""
    raw = await read_json(request, api, "silences")
    now = time.time()
    store = _store(api)
    ident = raw.get("id") if isinstance(raw, dict) else None
    existing: SilenceSpec | None = None
    if ident:
        try:
            existing = store.get(str(ident))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from exc
        if existing.state(now) == "expired":
            raise HTTPException(409, f"silence {ident!r} has expired; create a new one")
    try:
        spec = parse_silence(raw, now=now, ident=str(ident or uuid.uuid4()))
    except SilenceError as exc:
        raise HTTPException(422, exc.reason) from exc
    store.save(spec)
    try:
        await _announce(api, spec)
    except HTTPException:
        if existing is None:
            store.delete(spec.id)
        else:
            store.save(existing)
        raise
    return JSONResponse(status_code=201,
                        content={"silenceID": spec.id, **silence_to_dict(spec, now)})


@router.get("")
def list_silences(
    expired: bool = Query(False, description="Include expired silences."),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    """Active and pending silences (by start time), and with ``expired=true`` expired ones."""
    now = time.time()
    found = _store(api).listed(now, expired=expired)
    return {"silences": [silence_to_dict(s, now) for s in found]}


@router.get("/{silence_id}")
def get_silence(silence_id: str, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    try:
        return silence_to_dict(_store(api).get(silence_id), time.time())
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.delete("/{silence_id}")
async def expire_silence(request: Request, silence_id: str,
                         api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    """Expire a silence now: matching alerts from here on open incidents again. Expiring an
    expired silence changes nothing and answers 200 too, so a retry is safe."""
    now = time.time()
    try:
        spec = _store(api).expire(silence_id, now)
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    await _announce(api, spec)
    return silence_to_dict(spec, now)
