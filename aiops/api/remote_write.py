"""Prometheus remote write 1.0 receiver: ``POST /api/v1/write``.

The body is a snappy-compressed (block format) protobuf ``prometheus.WriteRequest``. Samples
become ``{"samples": [...]}`` batches on the metrics topic, keyed by service (the
``service``, else ``job``, else ``app`` label), and the answer is 204 only after the broker
acknowledged them; 503 when it did not, so Prometheus retries; 400 for a body that cannot be
decoded, so it does not.

Why a hand-written decoder rather than the ``protobuf`` runtime: only four tiny messages
matter (WriteRequest, TimeSeries, Label, Sample), so it needs no generated code and no extra
dependency, and it caches each series' decoded label set by the raw bytes of its labels:
Prometheus sends the same series every scrape, so after the first request a series' labels
cost one dict lookup. Producing the same sample dicts, it measures 1.7-2.6x the upb
runtime's throughput with a warm cache and 0.6x on series it has never seen
(``benchmarks/receiver_http.py``).
Unknown fields (exemplars, native histograms) are skipped by wire type, as protobuf
requires. Metadata (``MetricMetadata``: a family's type, which Prometheus sends about once a
minute) is kept by family name, and every forwarded sample of a family with a known type
carries it (``"type": "counter"``), so the detect stage knows a counter or a histogram even
when its name does not follow the conventions.

Stale markers and NaN: Prometheus writes a special NaN (bits ``0x7ff0000000000002``) when a
series disappears, and NaN is a legal sample value (``0/0``). Neither is a measurement a
detector can learn, and JSON has no NaN, so the receiver drops every non-finite sample and
counts it in ``aiops_remote_write_dropped_samples_total{reason="stale"|"non_finite"}``. A
series that went stale simply stops arriving; forwarding the marker would teach the detector
nothing (non-finite points are neither scored nor learnt). An alert already firing on a
series that vanished stays firing until the series returns and calms down or a person
resolves the incident: ending alerts on vanished series needs a timer in the detect stage.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cramjam
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from prometheus_client import Counter

from aiops.api import schemas
from aiops.api.deps import ApiDeps, deps
from aiops.api.edge import MAX_TS, MIN_TS
from aiops.api.receivers import _publish, read_body
from aiops.model import DecodeError, service_of
from aiops.wire.protobuf import encode_varint
from streams.codecs import dumps
from streams.producer import Record

router = APIRouter(tags=["receivers"])

STALE_NAN_BITS = 0x7FF0000000000002
_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)
_DOUBLE = struct.Struct("<d").unpack_from
_SIGN = 1 << 63
_CACHE_LIMIT = 200_000
BATCH_SAMPLES = 2000
"""Samples per Kafka message: large enough to amortise the per-message cost, small enough
to stay far below the broker's message size limit (~150 bytes per sample)."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    shift = 7
    pos += 1
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 10 bytes", kind="remote write request")


def _skip(buf: bytes, pos: int) -> int:
    """Skip one field of any wire type starting at its tag; returns the next position."""
    tag, pos = _varint(buf, pos)
    wire = tag & 7
    if wire == 0:
        return _varint(buf, pos)[1]
    if wire == 1:
        return pos + 8
    if wire == 2:
        length, pos = _varint(buf, pos)
        return pos + length
    if wire == 5:
        return pos + 4
    raise DecodeError(f"unsupported protobuf wire type {wire}", kind="remote write request")


def _ts6(raw: bytes) -> float | None:
    """Seconds from a 6-byte varint of milliseconds, or None if it is not one."""
    b0, b1, b2, b3, b4, b5 = raw
    if b5 >= 0x80 or (b0 & b1 & b2 & b3 & b4) < 0x80:
        return None
    ms = ((b0 & 0x7F) | (b1 & 0x7F) << 7 | (b2 & 0x7F) << 14 | (b3 & 0x7F) << 21
          | (b4 & 0x7F) << 28 | b5 << 35)
    return ms / 1000.0


def _labels(buf: bytes) -> dict[str, str]:
    """Decode the concatenated ``Label`` fields (field 1) of one TimeSeries."""
    labels: dict[str, str] = {}
    pos, n = 0, len(buf)
    while pos < n:
        length, pos = _varint(buf, pos + 1)  # tag is 0x0a: the caller only passes labels
        end = pos + length
        name = value = ""
        while pos < end:
            tag = buf[pos]
            if tag == 0x0A or tag == 0x12:
                size, pos = _varint(buf, pos + 1)
                text = buf[pos:pos + size].decode()
                if tag == 0x0A:
                    name = text
                else:
                    value = text
                pos += size
            else:
                pos = _skip(buf, pos)
        labels[name] = value
    return labels


def _sample(buf: bytes, pos: int, end: int) -> tuple[float, int, bool]:
    """(value, timestamp ms, is stale marker) of one ``Sample`` message."""
    value, ts, stale = 0.0, 0, False
    while pos < end:
        tag = buf[pos]
        if tag == 0x09:
            value = _DOUBLE(buf, pos + 1)[0]
            if value != value:
                stale = buf[pos + 1:pos + 9] == _STALE_BYTES
            pos += 9
        elif tag == 0x10:
            ts, pos = _varint(buf, pos + 1)
            if ts >= _SIGN:
                ts -= 1 << 64
        else:
            pos = _skip(buf, pos)
    if pos != end:
        raise DecodeError("a sample overruns its message", kind="remote write request")
    return value, ts, stale


@dataclass(slots=True)
class _Series:
    name: str
    labels: dict[str, str]
    service: str
    type: str = ""


#: ``MetricMetadata.MetricType`` of remote write 1.0, by enum number
METRIC_TYPES = ("unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary",
                "info", "stateset")
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def _metadata(buf: bytes, pos: int, end: int) -> tuple[str, str]:
    """(family name, type name) of one ``MetricMetadata`` message."""
    kind, family = 0, ""
    while pos < end:
        tag = buf[pos]
        if tag == 0x08:
            kind, pos = _varint(buf, pos + 1)
        elif tag == 0x12:
            size, pos = _varint(buf, pos + 1)
            family = buf[pos:pos + size].decode()
            pos += size
        else:
            pos = _skip(buf, pos)
    return family, METRIC_TYPES[kind] if kind < len(METRIC_TYPES) else "unknown"


@dataclass(slots=True)
class DecodedWrite:
    """One request's samples grouped by service, plus what was dropped and why."""

    by_service: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    samples: int = 0
    stale: int = 0
    non_finite: int = 0
    out_of_range: int = 0
    series: int = 0
    metadata: int = 0


class RemoteWriteDecoder:
    """Decodes WriteRequest bodies; keeps a bounded cache of decoded label sets.

    >>> stale = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
    >>> body = encode_write_request([
    ...     ({"__name__": "latency_ms", "job": "cart", "instance": "c1"},
    ...      [(12.5, 1_790_000_000_000), (float("nan"), 1_790_000_001_000),
    ...       (stale, 1_790_000_002_000)]),
    ... ])
    >>> decoded = RemoteWriteDecoder().decode(body)
    >>> decoded.by_service["cart"]
    [{'name': 'latency_ms', 'labels': {'instance': 'c1', 'job': 'cart'}, 'ts': 1790000000.0, \
'value': 12.5}]
    >>> decoded.samples, decoded.non_finite, decoded.stale
    (1, 1, 1)
    """

    def __init__(self, cache_limit: int = _CACHE_LIMIT) -> None:
        self._cache: dict[bytes, _Series] = {}
        self._cache_limit = cache_limit
        self._types: dict[str, str] = {}  # family name -> declared type (metadata)

    def type_of(self, name: str) -> str:
        """The declared type of a series name's family ('' when no metadata said)."""
        types = self._types
        if not types:
            return ""
        found = types.get(name)
        if found is not None:
            return found
        for suffix in _FAMILY_SUFFIXES:
            if name.endswith(suffix):
                found = types.get(name[:-len(suffix)])
                if found is not None:
                    return found
        return ""

    def _learn_type(self, family: str, kind: str) -> None:
        if not family or kind == "unknown" or self._types.get(family) == kind:
            return
        if len(self._types) >= self._cache_limit:
            self._types.clear()
        self._types[family] = kind
        for series in self._cache.values():  # rare: a family's type is new or changed
            series.type = self.type_of(series.name)

    def _series(self, key: bytes) -> _Series:
        found = self._cache.get(key)
        if found is None:
            labels = _labels(key)
            name = labels.pop("__name__", "")
            if not name:
                raise DecodeError("a time series has no __name__ label",
                                  kind="remote write request")
            found = _Series(name, labels, service_of(labels), self.type_of(name))
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()  # series churn: start over rather than grow without end
            self._cache[key] = found
        return found

    def decode(self, buf: bytes) -> DecodedWrite:
        """Decode an uncompressed WriteRequest; raise :class:`DecodeError` if malformed."""
        try:
            return self._decode(buf)
        except DecodeError:
            raise
        except (IndexError, struct.error) as exc:
            raise DecodeError("truncated protobuf message", kind="remote write request") from exc
        except UnicodeDecodeError as exc:
            raise DecodeError("a label is not UTF-8", kind="remote write request") from exc

    def _decode(self, buf: bytes) -> DecodedWrite:
        out = DecodedWrite()
        groups = out.by_service
        cache = self._cache
        times: dict[bytes, float] = {}  # a scrape's series share one timestamp
        unpack_double = _DOUBLE
        stale_bytes = _STALE_BYTES
        pos, n = 0, len(buf)
        count = fast = 0
        while pos < n:
            if buf[pos] != 0x0A:  # not a TimeSeries
                if buf[pos] == 0x1A:  # MetricMetadata
                    size, body = _varint(buf, pos + 1)
                    self._learn_type(*_metadata(buf, body, body + size))
                    out.metadata += 1
                pos = _skip(buf, pos)  # a newer field: skip it
                continue
            length = buf[pos + 1]
            if length < 0x80:
                pos += 2
            else:
                length, pos = _varint(buf, pos + 1)
            end = pos + length
            if end > n:
                raise DecodeError("a time series overruns the request",
                                  kind="remote write request")
            count += 1
            # Prometheus writes each series' labels, then one sample: 0x12 16 0x09 <double>
            # 0x10 <timestamp>, whose varint is 6 bytes for this era's milliseconds. So the
            # last 18 bytes are the sample and everything before them the labels.
            if (length > 18 and buf[end - 18] == 0x12 and buf[end - 17] == 16
                    and buf[end - 16] == 0x09 and buf[end - 7] == 0x10):
                key = buf[pos:end - 18]
                series = cache.get(key)
                if series is None:
                    series = self._labels_only(key)
                tsb = buf[end - 6:end]
                ts = times.get(tsb)
                if ts is None:
                    ts = _ts6(tsb)
                    if ts is not None:
                        times[tsb] = ts
                if series is not None and ts is not None:
                    value = unpack_double(buf, end - 15)[0]
                    if value - value == 0.0:  # finite: neither NaN nor +-Inf
                        group = groups.get(series.service)
                        if group is None:
                            group = groups[series.service] = []
                        if series.type:
                            group.append({"name": series.name, "labels": series.labels,
                                          "ts": ts, "value": value, "type": series.type})
                        else:
                            group.append({"name": series.name, "labels": series.labels,
                                          "ts": ts, "value": value})
                        fast += 1
                    elif buf[end - 15:end - 7] == stale_bytes:
                        out.stale += 1
                    else:
                        out.non_finite += 1
                    pos = end
                    continue
            pos = self._any_series(buf, pos, end, out)
        out.series = count
        out.samples += fast
        return out

    def _labels_only(self, key: bytes) -> _Series | None:
        """The series for a label section, or None if ``key`` is not exactly Label fields
        (then the general path decodes the series field by field)."""
        pos, n = 0, len(key)
        while pos < n:
            if key[pos] != 0x0A:
                return None
            size, pos = _varint(key, pos + 1)
            pos += size
        return self._series(key) if pos == n else None

    def _any_series(self, buf: bytes, pos: int, end: int, out: DecodedWrite) -> int:
        """Any valid TimeSeries encoding: several samples, unknown fields, any field order
        (a Label after the samples is legal protobuf, though Prometheus never writes it)."""
        label_bytes = b""
        samples: list[tuple[float, int, bool]] = []
        while pos < end:
            tag = buf[pos]
            if tag == 0x0A:
                size, body = _varint(buf, pos + 1)
                label_bytes += buf[pos:body + size]
                pos = body + size
            elif tag == 0x12:
                size, pos = _varint(buf, pos + 1)
                samples.append(_sample(buf, pos, pos + size))
                pos += size
            else:
                pos = _skip(buf, pos)
        if pos != end:
            raise DecodeError("a time series overruns its message", kind="remote write request")
        series = self._series(label_bytes)
        group = out.by_service.setdefault(series.service, [])
        for value, ts, stale in samples:
            if not MIN_TS <= ts / 1000.0 <= MAX_TS:  # would overflow date arithmetic downstream
                out.out_of_range += 1
            elif math.isfinite(value):
                sample = {"name": series.name, "labels": series.labels,
                          "ts": ts / 1000.0, "value": value}
                if series.type:
                    sample["type"] = series.type
                group.append(sample)
                out.samples += 1
            elif stale:
                out.stale += 1
            else:
                out.non_finite += 1
        return end


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


def decompress(body: bytes, limit: int) -> bytes:
    """Snappy block decompression, refusing (413) bodies that would expand past ``limit``."""
    try:
        declared, _ = _varint(body, 0)
    except (IndexError, DecodeError) as exc:
        raise DecodeError("body is not snappy block-compressed",
                          kind="remote write request") from exc
    if declared > limit:
        raise HTTPException(413, f"decompressed body of {declared} bytes is over {limit}")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError
        raise DecodeError(f"body is not snappy block-compressed: {exc}",
                          kind="remote write request") from exc


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
    except DecodeError as exc:
        raise _bad_request(api, exc) from exc
    except HTTPException:
        api.telemetry.rejected.labels("remote_write", "413").inc()
        raise
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


def encode_metadata(types: Mapping[str, str]) -> bytes:
    """Encode ``MetricMetadata`` fields (family name -> type), as Prometheus sends them in
    a WriteRequest of their own; for tests and clients.

    >>> dec = RemoteWriteDecoder()
    >>> _ = dec.decode(encode_metadata({"jobs_done": "counter"}))
    >>> body = encode_write_request([({"__name__": "jobs_done", "job": "a"}, [(3.0, 1_000)])])
    >>> dec.decode(body).by_service["a"][0]["type"]
    'counter'
    """
    out = bytearray()
    for family, kind in types.items():
        meta = b"\x08" + encode_varint(METRIC_TYPES.index(kind)) + _field(2, family.encode())
        out += _field(3, meta)
    return bytes(out)


def encode_write_request(series: list[tuple[Mapping[str, str], list[tuple[float, int]]]]
                         ) -> bytes:
    """Encode an uncompressed WriteRequest: ``[(labels with __name__, [(value, ts_ms)])]``.

    The inverse of :class:`RemoteWriteDecoder`, for tests, benchmarks and clients that push
    to the receiver without Prometheus. Labels are written sorted by name, as Prometheus does.

    >>> body = encode_write_request([({"__name__": "up", "job": "cart"}, [(1.0, 1_000)])])
    >>> decoded = RemoteWriteDecoder().decode(body)
    >>> decoded.by_service["cart"]
    [{'name': 'up', 'labels': {'job': 'cart'}, 'ts': 1.0, 'value': 1.0}]
    """
    out = bytearray()
    for labels, samples in series:
        ts_body = bytearray()
        for name in sorted(labels):
            label = _field(1, name.encode()) + _field(2, labels[name].encode())
            ts_body += _field(1, label)
        for value, ts in samples:
            sample = b"\x09" + struct.pack("<d", value) + b"\x10" + encode_varint(
                ts & 0xFFFFFFFFFFFFFFFF)
            ts_body += _field(2, sample)
        out += _field(1, bytes(ts_body))
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload
