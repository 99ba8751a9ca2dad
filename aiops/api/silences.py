"""Silences and maintenance windows: create, list, expire (Alertmanager's v2 shapes).

The store keeps them (so they survive restarts and the correlate stage reloads them on
start); the correlator, which owns the alert state, hears of each change through the alerts
topic, where it is ordered with the alerts: an alert accepted after the API answered is
judged with the change in force. The API answers only once the change is on the broker; if
the broker did not take a new silence it is not kept either (503, retry).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import read_json
from aiops.api.silence_ops import expire_silence as expire_now
from aiops.api.silence_ops import save_silence, silence_store
from aiops.model import NotFoundError
from aiops.silences import silence_to_dict

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])


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
    spec = await save_silence(api, raw)
    return JSONResponse(status_code=201,
                        content={"silenceID": spec.id, **silence_to_dict(spec, time.time())})


@router.get("")
def list_silences(
    expired: bool = Query(False, description="Include expired silences."),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    """Active and pending silences (by start time), and with ``expired=true`` expired ones."""
    now = time.time()
    found = silence_store(api).listed(now, expired=expired)
    return {"silences": [silence_to_dict(s, now) for s in found]}


@router.get("/{silence_id}")
def get_silence(silence_id: str, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    try:
        return silence_to_dict(silence_store(api).get(silence_id), time.time())
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.delete("/{silence_id}")
async def expire_silence(request: Request, silence_id: str,
                         api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    """Expire a silence now: matching alerts from here on open incidents again. Expiring an
    expired silence changes nothing and answers 200 too, so a retry is safe."""
    spec = await expire_now(api, silence_id)
    return silence_to_dict(spec, time.time())
