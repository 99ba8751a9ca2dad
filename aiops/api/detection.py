"""``POST /api/v1/detection/accept``: a person accepts the current level of firing series.

The detect stage is the single writer of detector state, so the API only validates the
selector and puts the command on every partition of the metrics topic (where it is ordered
with the samples of whichever series it selects); each detect worker resolves the matching
alerts it holds and relearns those series from their current level (``aiops.acceptance``).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from aiops.acceptance import accept_message, parse_accept
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_json
from aiops.model import BrokerUnavailableError
from aiops.silences import SilenceError
from streams.producer import Record

router = APIRouter(prefix="/api/v1/detection", tags=["detection"])


@router.post(
    "/accept",
    status_code=202,
    responses={
        401: {"description": "Missing or wrong credentials when the API has them set."},
        422: {"description": "Bad or missing matchers; the reason is in 'detail'."},
        503: {"description": "The broker did not take the command; nothing changed."},
    },
)
async def accept_level(request: Request, api: ApiDeps = Depends(deps)) -> Any:
    """Accept the current level of the firing series that ``matchers`` select (matcher
    strings such as ``service="cart"`` or ``__name__=~"error_.*"``, or objects ``{name,
    value, isRegex, isEqual}``); ``actor`` and ``note`` are kept on the resolved alerts.
    202 once the command is on every partition of the metrics topic."""
    raw = await read_json(request, api, "detection")
    try:
        cmd = parse_accept(raw, now=time.time())
    except SilenceError as exc:
        api.telemetry.rejected.labels("detection", "422").inc()
        raise HTTPException(422, exc.reason) from exc
    topic = api.topics.metrics
    try:
        count = await run_in_threadpool(api.producer.partitions, topic)
    except BrokerUnavailableError as exc:
        raise HTTPException(503, f"not sent, retry later: {exc.reason}",
                            headers={"Retry-After": "5"}) from exc
    count = count or api.topics.data_partitions
    value = accept_message(cmd)
    await _publish(api, [Record(topic, b"accept", value, partition=p) for p in range(count)],
                   "detection")
    return JSONResponse(status_code=202, content={
        "status": "accepted", "partitions": count,
        "matchers": [m.to_dict() for m in cmd.matchers]})
