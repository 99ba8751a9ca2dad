"""Prometheus remote write 1.0 receiver: ``POST /api/v1/write``.

The body is decoded by :mod:`aiops.wire.remote_write` (why a hand-written decoder, stale
markers, metadata: see there). Samples become ``{"samples": [...]}`` batches on the metrics
topic, keyed by service (the ``service``, else ``job``, else ``app`` label), and the answer is
204 only after the broker acknowledged them; 503 when it did not, so Prometheus retries; 400
for a body that cannot be decoded and 413 for one too large, so it does not. Dropped samples
(stale markers, NaN, times out of range) are counted in
``aiops_remote_write_dropped_samples_total{reason}``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import Counter

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.receivers import _publish, read_body
from aiops.model import DecodeError, TooLargeError
from aiops.wire.remote_write import DecodedWrite, RemoteWriteDecoder, decompress
from aiops.wire.shapes import dumps
from streams.producer import Record

router = APIRouter(tags=["receivers"])

BATCH_SAMPLES = 2000
"""Samples per Kafka message: large enough to amortise the per-message cost, small enough
to stay far below the broker's message size limit (~150 bytes per sample)."""


def records_for(decoded: DecodedWrite, topic: str, max_bytes: int = 512 * 1024
                ) -> list[Record]:
    """One ``{"samples": [...]}`` message per service (split every BATCH_SAMPLES, and in
    halves while a message is over ``max_bytes``); :class:`DecodeError` for a single sample
    that is over it by itself (its labels are too large for any topic)."""
    records = []

    def add(key: bytes, samples: list[dict[str, Any]]) -> None:
        value = dumps({"samples": samples})
        if len(value) <= max_bytes:
            records.append(Record(topic, key, value))
        elif len(samples) == 1:
            raise DecodeError(f"a sample of {samples[0]['name']!r} is {len(value)} bytes once "
                              f"encoded, over api.max_record_bytes ({max_bytes})",
                              kind="remote write request")
        else:
            half = len(samples) // 2
            add(key, samples[:half])
            add(key, samples[half:])

    for service, samples in decoded.by_service.items():
        key = service.encode()
        for i in range(0, len(samples), BATCH_SAMPLES):
            add(key, samples[i:i + BATCH_SAMPLES])
    return records


class _State:
    """Per-application receiver state: the label cache and the dropped-samples counter."""

    def __init__(self, api: ApiDeps) -> None:
        self.decoder = RemoteWriteDecoder()
        self.dropped = Counter(
            "aiops_remote_write_dropped_samples_total",
            "Samples the remote write receiver did not forward (stale markers, NaN, Inf, "
            "timestamps outside 1970..9999).",
            ["reason"], registry=api.telemetry.registry,
        )


_STATE_LOCK = threading.Lock()


def _state(request: Request, api: ApiDeps) -> _State:
    app_state = request.app.state
    found: _State | None = getattr(app_state, "remote_write", None)
    if found is None:
        with _STATE_LOCK:
            found = getattr(app_state, "remote_write", None)
            if found is None:
                found = _State(api)
                app_state.remote_write = found
    return found


def _bad_request(api: ApiDeps, exc: DecodeError) -> HTTPException:
    api.telemetry.rejected.labels("remote_write", "400").inc()
    return HTTPException(400, exc.reason)


@router.post(
    "/api/v1/write",
    status_code=204,
    summary="Prometheus remote write 1.0 receiver (snappy-compressed protobuf)",
    openapi_extra=schemas.REMOTE_WRITE,
    responses={
        400: {"description": "Not a snappy-compressed WriteRequest; Prometheus drops it."},
        401: {"description": "Missing or wrong credentials (bearer token or basic auth)."},
        413: {"description": "Body over api.max_body_bytes (or api.max_decoded_bytes)."},
        415: {"description": "Content-Encoding other than snappy, or remote write 2.0."},
        503: {"description": "Kafka did not acknowledge; Prometheus retries."},
    },
)
async def remote_write(request: Request, api: ApiDeps = Depends(deps)) -> Response:
    """Samples are on the metrics topic (acknowledged by the broker) when this answers 204."""
    started = time.perf_counter()
    encoding = request.headers.get("content-encoding", "snappy").strip().lower()
    if encoding != "snappy":
        api.telemetry.rejected.labels("remote_write", "415").inc()
        raise HTTPException(415, f"content-encoding {encoding!r}: remote write 1.0 is snappy")
    content_type = request.headers.get("content-type", "")
    if "proto=" in content_type and "proto=prometheus.WriteRequest" not in content_type:
        # Remote write 2.0 senders fall back to 1.0 on a 415 (as its spec asks receivers).
        api.telemetry.rejected.labels("remote_write", "415").inc()
        raise HTTPException(415, f"content-type {content_type!r}: this receiver speaks remote "
                                 "write 1.0 (protobuf_message: prometheus.WriteRequest)")
    body = await read_body(request, api, "remote_write")
    state = _state(request, api)
    try:
        decoded = state.decoder.decode(decompress(body, api.settings.max_decoded_bytes))
    except TooLargeError as exc:
        api.telemetry.rejected.labels("remote_write", "413").inc()
        raise HTTPException(413, exc.reason) from exc
    except DecodeError as exc:
        raise _bad_request(api, exc) from exc
    if decoded.stale:
        state.dropped.labels("stale").inc(decoded.stale)
    if decoded.non_finite:
        state.dropped.labels("non_finite").inc(decoded.non_finite)
    if decoded.out_of_range:
        state.dropped.labels("time_out_of_range").inc(decoded.out_of_range)
    try:
        records = records_for(decoded, api.topics.metrics, api.settings.max_record_bytes)
    except DecodeError as exc:
        api.telemetry.rejected.labels("remote_write", "413").inc()
        raise HTTPException(413, exc.reason) from exc
    if records:
        await _publish(api, records, "remote_write")
    api.telemetry.received.labels("remote_write").inc(decoded.samples)
    api.telemetry.request_latency.labels("remote_write").observe(time.perf_counter() - started)
    return Response(status_code=204)
