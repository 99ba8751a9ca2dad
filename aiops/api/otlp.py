"""OTLP/HTTP receivers: ``POST /v1/metrics``, ``/v1/logs``, ``/v1/traces``.

What an OpenTelemetry SDK or Collector exporter sends (``application/x-protobuf`` or
``application/json``, optionally gzip) is checked, cut into records as the Collector's Kafka
exporter would write them (:mod:`aiops.wire.otlp.split`) and put on the ``otlp_*`` topics;
the OTLP ingest stage maps them from there, exactly as it maps what a Collector writes to
Kafka. So there is one mapping, and its state (cumulative histograms, span windows) lives
in one place per service, whichever way the data came.

Answers follow the OTLP/HTTP specification, in the request's encoding: 200 with an
``Export*ServiceResponse`` only after the broker acknowledged (``partial_success`` counts
items the engine will not use, and why); 400 with a ``google.rpc.Status`` for a body that
cannot be decoded (the exporter drops it); 415 for another content type or encoding; 413
over ``api.max_body_bytes`` or, decompressed, ``api.max_decoded_bytes``; 401 on bad
credentials; 503 with ``Retry-After`` when the broker did not acknowledge (the exporter
retries).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_body
from aiops.model import DecodeError
from aiops.wire.otlp.body import (
    JSON,
    PROTOBUF,
    Signal,
    TooLargeError,
    UnsupportedMediaError,
    decompress,
    encode,
    media_type,
    parse,
    response,
    status_body,
)
from aiops.wire.otlp.split import MAX_RECORD_BYTES, invalid_items, split_request
from streams.producer import Record

router = APIRouter(tags=["receivers"])

# google.rpc.Code for the status body
_GRPC_CODE = {400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 503: 14}

_RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "Accepted and on Kafka; an Export*ServiceResponse, with "
                         "partial_success when some items were unusable."},
    400: {"description": "Not an OTLP request of this signal (google.rpc.Status); dropped."},
    401: {"description": "Missing or wrong credentials (bearer token or basic auth)."},
    413: {"description": "Over api.max_body_bytes, or api.max_decoded_bytes decompressed."},
    415: {"description": "Content-Type other than application/x-protobuf or "
                         "application/json, or Content-Encoding other than gzip."},
    503: {"description": "Kafka did not acknowledge; the exporter retries after Retry-After."},
}


def _topic(api: ApiDeps, signal: Signal) -> str:
    return {Signal.METRICS: api.topics.otlp_metrics, Signal.LOGS: api.topics.otlp_logs,
            Signal.TRACES: api.topics.otlp_spans}[signal]


def _failure(api: ApiDeps, receiver: str, status: int, message: str, media: str,
             headers: dict[str, str] | None = None, *, count: bool = True) -> Response:
    """The error answer OTLP/HTTP specifies: a ``google.rpc.Status`` in the request's
    encoding. ``count=False`` for refusals the shared helpers already counted."""
    if count:
        api.telemetry.rejected.labels(receiver, str(status)).inc()
    return Response(status_body(_GRPC_CODE.get(status, 2), message, media), status_code=status,
                    media_type=media, headers=headers)


async def receive(request: Request, api: ApiDeps, signal: Signal) -> Response:
    """Check, split and publish one export request (see the module docstring)."""
    started = time.perf_counter()
    receiver = f"otlp_{signal.value}"
    content_type = request.headers.get("content-type", "")
    media = JSON if content_type.split(";")[0].strip().lower() == JSON else PROTOBUF
    try:
        media = media_type(content_type)
        body = await read_body(request, api, receiver)
        data = decompress(body, request.headers.get("content-encoding", ""),
                          api.settings.max_decoded_bytes)
        message = parse(signal, data, json=media == JSON)
        items, rejected, reason = invalid_items(signal, message)
        topic = _topic(api, signal)
        records = []
        for service, value in split_request(signal, message,
                                            raw=None if media == JSON else data):
            if len(value) > MAX_RECORD_BYTES:  # one item larger than Kafka takes
                rejected += 1
                reason = f"an item over {MAX_RECORD_BYTES} bytes cannot be put on Kafka"
            else:
                records.append(Record(topic, service.encode(), value))
        if records:
            await _publish(api, records, receiver)
    except HTTPException as exc:  # from read_body, _publish: counted there
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return _failure(api, receiver, exc.status_code, detail, media,
                        dict(exc.headers or {}), count=False)
    except TooLargeError as exc:
        return _failure(api, receiver, 413, exc.reason, media)
    except UnsupportedMediaError as exc:
        return _failure(api, receiver, 415, exc.reason, media)
    except DecodeError as exc:
        return _failure(api, receiver, 400, exc.reason, media)
    api.telemetry.received.labels(receiver).inc(items)
    api.telemetry.request_latency.labels(receiver).observe(time.perf_counter() - started)
    return Response(encode(response(signal, rejected, reason), media), status_code=200,
                    media_type=media)


@router.post("/v1/metrics", summary="OTLP/HTTP metrics receiver", responses=_RESPONSES)
async def otlp_metrics(request: Request, api: ApiDeps = Depends(deps)) -> Response:
    """ExportMetricsServiceRequest, protobuf or JSON, optionally gzip."""
    return await receive(request, api, Signal.METRICS)


@router.post("/v1/logs", summary="OTLP/HTTP logs receiver", responses=_RESPONSES)
async def otlp_logs(request: Request, api: ApiDeps = Depends(deps)) -> Response:
    """ExportLogsServiceRequest, protobuf or JSON, optionally gzip."""
    return await receive(request, api, Signal.LOGS)


@router.post("/v1/traces", summary="OTLP/HTTP traces receiver", responses=_RESPONSES)
async def otlp_traces(request: Request, api: ApiDeps = Depends(deps)) -> Response:
    """ExportTraceServiceRequest, protobuf or JSON, optionally gzip."""
    return await receive(request, api, Signal.TRACES)
