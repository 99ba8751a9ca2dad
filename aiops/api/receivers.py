"""Receivers that write what they accept to Kafka before they answer.

Alertmanager retries on 5xx and not on 4xx, so: a body we cannot understand is a 4xx with
the reason (retrying cannot help), and a broker that did not acknowledge is a 503 (retrying
will). The order of checks is cheap-first: credentials (401), size (413), JSON (400), shape
(422), then the broker (2xx or 503).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.requests import ClientDisconnect

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.edge import oversized, refuse_nul_in_body
from aiops.model import BrokerUnavailableError, DecodeError
from aiops.wire.alertmanager import decode_webhook
from aiops.wire.shapes import alert_key, encode_alert, loads
from streams.producer import Record

log = logging.getLogger(__name__)

router = APIRouter(tags=["receivers"])

def _too_large(api: ApiDeps, receiver: str, limit: int) -> HTTPException:
    api.telemetry.rejected.labels(receiver, "413").inc()
    return HTTPException(413, f"body larger than {limit} bytes")


async def read_body(request: Request, api: ApiDeps, receiver: str) -> bytes:
    """The request body, refused with 413 as soon as it passes ``max_body_bytes``.

    A declared ``Content-Length`` over the limit is refused before reading anything; a
    chunked or lying body is cut off while streaming, so memory stays bounded either way.
    """
    limit = api.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(api, receiver, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(api, receiver, limit)
            chunks.append(chunk)
    except ClientDisconnect as exc:  # the sender gave up mid-body: nothing to answer
        api.telemetry.rejected.labels(receiver, "disconnected").inc()
        raise HTTPException(400, "client disconnected before the body was read") from exc
    return b"".join(chunks)


async def read_json(request: Request, api: ApiDeps, receiver: str) -> Any:
    body = await read_body(request, api, receiver)
    try:
        parsed = loads(body)
    except DecodeError as exc:
        api.telemetry.rejected.labels(receiver, "400").inc()
        raise HTTPException(400, exc.reason) from exc
    try:
        refuse_nul_in_body(body, parsed)
    except HTTPException:
        api.telemetry.rejected.labels(receiver, "422").inc()
        raise
    return parsed


def _unprocessable(api: ApiDeps, detail: str) -> HTTPException:
    api.telemetry.rejected.labels("alertmanager", "422").inc()
    return HTTPException(422, detail)


def webhook_records(api: ApiDeps, raw: object) -> tuple[list[Record], int]:
    """Decode a version 4 payload (422 with the reason) and encode its alerts for the alerts
    topic (413 for one too large for it); returns (records, truncated)."""
    try:
        webhook = decode_webhook(raw)
    except DecodeError as exc:
        raise _unprocessable(api, exc.reason) from exc
    records = []
    topic = api.topics.alerts
    limit = api.settings.max_record_bytes
    for index, alert in enumerate(webhook.alerts):
        value = encode_alert(alert)
        if len(value) > limit:
            api.telemetry.rejected.labels("alertmanager", "413").inc()
            raise HTTPException(413, f"alerts[{index}] is {len(value)} bytes once encoded, over "
                                     f"api.max_record_bytes ({limit}): labels or annotations "
                                     "too large")
        records.append(Record(topic, alert_key(alert), value))
    return records, webhook.truncated


@router.post(
    "/api/v1/alerts/alertmanager",
    status_code=200,
    summary="Alertmanager webhook receiver (payload version 4)",
    openapi_extra=schemas.WEBHOOK,
    responses={
        401: {"description": "Missing or wrong credentials (bearer token or basic auth)."},
        413: {"description": "Body larger than api.max_body_bytes."},
        400: {"description": "Body is not JSON."},
        422: {"description": "JSON that is not a version 4 webhook payload."},
        503: {"description": "Kafka did not acknowledge; Alertmanager retries."},
    },
)
async def alertmanager_webhook(request: Request, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    """Alerts are on the alerts topic (acknowledged by the broker) when this answers 200."""
    started = time.perf_counter()
    raw = await read_json(request, api, "alertmanager")
    records, truncated = webhook_records(api, raw)
    if truncated:
        log.warning("Alertmanager left %d alert(s) out of a notification (max_alerts in its "
                    "webhook_configs); the engine sees only the %d it was sent",
                    truncated, len(records))
    if records:
        await _publish(api, records, "alertmanager")
    api.telemetry.received.labels("alertmanager").inc(len(records))
    api.telemetry.request_latency.labels("alertmanager").observe(time.perf_counter() - started)
    return {"accepted": len(records), "truncated": truncated}


async def _publish(api: ApiDeps, records: list[Record], receiver: str) -> None:
    """Put ``records`` on the broker: 413 for one larger than the broker would take (a retry
    cannot fix it), 503 with Retry-After when the broker did not acknowledge."""
    from starlette.concurrency import run_in_threadpool

    too_big = oversized(records, api.settings.max_record_bytes)
    if too_big is not None:
        api.telemetry.rejected.labels(receiver, "413").inc()
        raise HTTPException(413, f"a record of {too_big[1]} bytes is over "
                                 f"api.max_record_bytes ({api.settings.max_record_bytes})")

    try:
        await run_in_threadpool(api.producer.publish, records, api.settings.publish_timeout_s)
    except BrokerUnavailableError as exc:
        api.telemetry.rejected.labels(receiver, "503").inc()
        raise HTTPException(503, f"not stored, retry later: {exc.reason}",
                            headers={"Retry-After": "5"}) from exc
