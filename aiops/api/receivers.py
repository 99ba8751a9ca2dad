"""Receivers that write what they accept to Kafka before they answer.

Alertmanager retries on 5xx and not on 4xx, so: a body we cannot understand is a 4xx with
the reason (retrying cannot help), and a broker that did not acknowledge is a 503 (retrying
will).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aiops.api.deps import ApiDeps, check_auth, deps
from aiops.model import BrokerUnavailableError, DecodeError
from streams.codecs import alert_from_dict, alert_key, encode_alert, loads
from streams.producer import Record

router = APIRouter(tags=["receivers"])


class WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str = "firing"
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str = ""
    fingerprint: str = ""


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")
    version: str = "4"
    groupKey: str = ""
    truncatedAlerts: int = 0
    status: str = "firing"
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[WebhookAlert]


async def read_json(request: Request, api: ApiDeps, receiver: str) -> Any:
    limit = api.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        api.telemetry.rejected.labels(receiver, "413").inc()
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            api.telemetry.rejected.labels(receiver, "413").inc()
            raise HTTPException(413, f"body larger than {limit} bytes")
    try:
        return loads(bytes(body))
    except DecodeError as exc:
        api.telemetry.rejected.labels(receiver, "400").inc()
        raise HTTPException(400, exc.reason) from exc


@router.post(
    "/api/v1/alerts/alertmanager",
    status_code=200,
    summary="Alertmanager webhook receiver (payload version 4)",
)
async def alertmanager_webhook(request: Request, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    started = time.perf_counter()
    check_auth(request, api.settings)
    raw = await read_json(request, api, "alertmanager")
    try:
        payload = AlertmanagerWebhook.model_validate(raw)
    except ValidationError as exc:
        api.telemetry.rejected.labels("alertmanager", "422").inc()
        raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from exc
    if payload.version != "4":
        api.telemetry.rejected.labels("alertmanager", "422").inc()
        raise HTTPException(422, f"unsupported webhook payload version {payload.version!r}")
    records = []
    for index, item in enumerate(payload.alerts):
        try:
            alert = alert_from_dict(item.model_dump())
        except DecodeError as exc:
            api.telemetry.rejected.labels("alertmanager", "422").inc()
            raise HTTPException(422, f"alerts[{index}]: {exc.reason}") from exc
        records.append(Record(api.topics.alerts, alert_key(alert), encode_alert(alert)))
    await _publish(api, records, "alertmanager")
    api.telemetry.received.labels("alertmanager").inc(len(records))
    api.telemetry.request_latency.labels("alertmanager").observe(time.perf_counter() - started)
    return {"accepted": len(records), "truncated": payload.truncatedAlerts}


async def _publish(api: ApiDeps, records: list[Record], receiver: str) -> None:
    from starlette.concurrency import run_in_threadpool

    try:
        await run_in_threadpool(api.producer.publish, records, api.settings.publish_timeout_s)
    except BrokerUnavailableError as exc:
        api.telemetry.rejected.labels(receiver, "503").inc()
        raise HTTPException(503, f"not stored, retry later: {exc.reason}",
                            headers={"Retry-After": "5"}) from exc
