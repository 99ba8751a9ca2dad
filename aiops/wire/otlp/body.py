"""OTLP request bodies: which signal, which encoding, decompression with limits, parsing.

One decoder serves both transports. OTLP/HTTP says what a body is in ``Content-Type``
(``application/x-protobuf`` or ``application/json``) and ``Content-Encoding`` (``gzip`` or
none). A Kafka record written by the Collector's Kafka exporter has no headers that say it,
but the two encodings cannot be confused: an ``otlp_json`` record is a JSON object (first
byte ``{``), and an ``otlp_proto`` record starts with field 1 of the request (byte ``0x0a``)
or is empty, so :func:`sniff_json` tells them apart and a topic may carry both.

OTLP/JSON differs from protobuf's canonical JSON mapping in one place that matters: trace
and span ids are hex strings, not base64. JSON is turned into the ``opentelemetry-proto``
message by a converter driven by the message descriptors (:func:`_fields`), which reads hex
ids and ignores unknown fields, as the specification asks of receivers; it reads about
twice as many spans per CPU-second as ``google.protobuf.json_format`` (which cannot read hex
ids anyway; ``benchmarks/otlp_ingest.py``) and is tested against it (``tests/aiops/wire``).

>>> data = (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": '
...         b'"5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}]}]}]}')
>>> request = parse(Signal.TRACES, data, json=sniff_json(data))
>>> request.resource_spans[0].scope_spans[0].spans[0].span_id.hex()
'eee19b7ec3c1b174'
>>> parse(Signal.TRACES, b"\\x0a\\x05\\x0a", json=False)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
aiops.model.errors.DecodeError: cannot decode OTLP traces request: truncated or malformed ...
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aiops.model import DecodeError, TooLargeError
from aiops.wire.protobuf import encode_varint

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class Signal(StrEnum):
    METRICS = "metrics"
    LOGS = "logs"
    TRACES = "traces"


REQUESTS: dict[Signal, Callable[[], Message]] = {
    Signal.METRICS: ExportMetricsServiceRequest,
    Signal.LOGS: ExportLogsServiceRequest,
    Signal.TRACES: ExportTraceServiceRequest,
}
_RESPONSES: dict[Signal, Callable[[], Message]] = {
    Signal.METRICS: ExportMetricsServiceResponse,
    Signal.LOGS: ExportLogsServiceResponse,
    Signal.TRACES: ExportTraceServiceResponse,
}


class UnsupportedMediaError(DecodeError):
    """A content type or content encoding the receiver does not speak (HTTP 415)."""


def media_type(content_type: str) -> str:
    """``application/x-protobuf`` or ``application/json`` from a Content-Type header.

    >>> media_type("application/json; charset=utf-8")
    'application/json'
    >>> media_type("text/plain")
    Traceback (most recent call last):
    ...
    aiops.wire.otlp.body.UnsupportedMediaError: cannot decode OTLP request: content-type \
'text/plain': OTLP/HTTP bodies are application/x-protobuf or application/json
    """
    base = content_type.split(";", 1)[0].strip().lower()
    if base in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if base == JSON:
        return JSON
    raise UnsupportedMediaError(f"content-type {content_type!r}: OTLP/HTTP bodies are "
                                f"{PROTOBUF} or {JSON}", kind="OTLP request")


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body after ``Content-Encoding`` (gzip, deflate or identity), at most ``limit``
    bytes: decompression stops as soon as it passes the limit, so a small bomb cannot
    take the memory its expansion would need.

    >>> import gzip
    >>> decompress(gzip.compress(b"x" * 10), "gzip", 100)
    b'xxxxxxxxxx'
    >>> decompress(gzip.compress(b"x" * 1000), "gzip", 100)
    Traceback (most recent call last):
    ...
    aiops.model.errors.TooLargeError: cannot decode OTLP request: body decompresses to \
more than 100 bytes
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise TooLargeError(f"body is more than {limit} bytes", limit=limit,
                            kind="OTLP request")
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaError(f"content-encoding {encoding!r}: OTLP/HTTP bodies are "
                                    "gzip-compressed or not compressed", kind="OTLP request")
    # wbits: 16+ for a gzip header, 32+ to detect zlib or gzip for "deflate"
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding
                                  else 32 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLargeError(f"body decompresses to more than {limit} bytes", limit=limit,
                            kind="OTLP request")
        out += inflater.flush()
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {encoding}: {exc}", kind="OTLP request") from exc
    if not inflater.eof:
        raise DecodeError(f"{encoding} stream is truncated", kind="OTLP request")
    if len(out) > limit:
        raise TooLargeError(f"body decompresses to more than {limit} bytes", limit=limit,
                            kind="OTLP request")
    return out


def sniff_json(data: bytes) -> bool:
    """Whether a Kafka record is ``otlp_json`` (a JSON object) rather than ``otlp_proto``."""
    return data[:1] == b"{" or data.lstrip()[:1] == b"{"


_F = FieldDescriptor
_INTS = frozenset((_F.TYPE_INT64, _F.TYPE_UINT64, _F.TYPE_SINT64, _F.TYPE_FIXED64,
                   _F.TYPE_SFIXED64, _F.TYPE_INT32, _F.TYPE_UINT32, _F.TYPE_SINT32,
                   _F.TYPE_FIXED32, _F.TYPE_SFIXED32))
_FLOATS = frozenset((_F.TYPE_DOUBLE, _F.TYPE_FLOAT))
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_HEX_IDS = frozenset(("trace_id", "span_id", "parent_span_id"))
# field -> (python name, type, message descriptor or enum descriptor, repeated)
_Plan = dict[str, tuple[str, int, Any, bool]]
_PLANS: dict[Any, _Plan] = {}


def _plan(descriptor: Any) -> _Plan:
    plan = _PLANS.get(descriptor)
    if plan is None:
        plan = {}
        for f in descriptor.fields:
            sub = f.message_type if f.type == _F.TYPE_MESSAGE else f.enum_type
            entry = (f.name, f.type, sub, f.is_repeated)
            plan[f.json_name] = entry
            plan[f.name] = entry
        _PLANS[descriptor] = plan
    return plan


def _scalar(name: str, ftype: int, enum: Any, value: Any) -> Any:
    if ftype in _INTS:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{name}: {value!r} is not an integer")
        return int(value)
    if ftype in _FLOATS:
        if isinstance(value, str):
            return _SPECIAL_FLOATS[value] if value in _SPECIAL_FLOATS else float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: {value!r} is not a number")
        return float(value)
    if ftype == _F.TYPE_BYTES:
        if not isinstance(value, str):
            raise ValueError(f"{name}: {value!r} is not a string")
        if name in _HEX_IDS:
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise ValueError(f"{name} {value[:40]!r} is not hex") from None
        return base64.b64decode(value, validate=True)
    if ftype == _F.TYPE_ENUM:
        if isinstance(value, str) and not value.lstrip("-").isdigit():
            found = enum.values_by_name.get(value)
            if found is None:
                raise ValueError(f"{name}: unknown value {value!r}")
            return found.number
        return int(value)
    if ftype == _F.TYPE_BOOL and not isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not a boolean")
    if ftype == _F.TYPE_STRING and not isinstance(value, str):
        raise ValueError(f"{name}: {value!r} is not a string")
    return value


def _fields(doc: Any, descriptor: Any) -> dict[str, Any]:
    """OTLP/JSON object -> constructor arguments of ``descriptor``'s message: names in
    either spelling, hex ids, 64-bit integers as strings, enums by number or name; unknown
    fields and nulls are ignored, as the specification asks of receivers."""
    if not isinstance(doc, dict):
        raise ValueError(f"{descriptor.name} must be a JSON object, got {type(doc).__name__}")
    plan = _plan(descriptor)
    out: dict[str, Any] = {}
    for key, value in doc.items():
        entry = plan.get(key)
        if entry is None or value is None:
            continue
        name, ftype, sub, repeated = entry
        if repeated:
            if not isinstance(value, list):
                raise ValueError(f"{key} must be a list")
            if ftype == _F.TYPE_MESSAGE:
                out[name] = [_fields(v, sub) for v in value]
            else:
                out[name] = [_scalar(name, ftype, sub, v) for v in value]
        elif ftype == _F.TYPE_MESSAGE:
            out[name] = _fields(value, sub)
        else:
            out[name] = _scalar(name, ftype, sub, value)
    return out


def parse(signal: Signal, data: bytes, *, json: bool) -> Any:
    """The ``Export*ServiceRequest`` of ``signal`` in ``data``; raises DecodeError."""
    kind = f"OTLP {signal.value} request"
    message = REQUESTS[signal]()
    if json:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"invalid JSON: {exc}", kind=kind) from exc
        if not isinstance(doc, dict):
            raise DecodeError(f"the body must be a JSON object, got {type(doc).__name__}",
                              kind=kind)
        try:
            return type(message)(**_fields(doc, message.DESCRIPTOR))
        except (binascii.Error, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise DecodeError(f"not an OTLP/JSON {signal.value} request: {exc}",
                              kind=kind) from exc
    try:
        message.ParseFromString(data)
    except (ProtobufDecodeError, RuntimeError, ValueError) as exc:
        raise DecodeError(f"truncated or malformed protobuf: {exc}", kind=kind) from exc
    return message


def response(signal: Signal, rejected: int = 0, error_message: str = "") -> Any:
    """An ``Export*ServiceResponse``, with ``partial_success`` when something was rejected."""
    message: Any = _RESPONSES[signal]()
    if rejected or error_message:
        field = {Signal.METRICS: "rejected_data_points", Signal.LOGS: "rejected_log_records",
                 Signal.TRACES: "rejected_spans"}[signal]
        setattr(message.partial_success, field, rejected)
        message.partial_success.error_message = error_message
    return message


def encode(message: Any, media: str) -> bytes:
    """A message as OTLP/HTTP answers it: in the request's encoding."""
    if media == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    data: bytes = message.SerializeToString()
    return data


def status_body(code: int, message: str, media: str) -> bytes:
    """A ``google.rpc.Status`` (the error body OTLP/HTTP specifies), without depending on
    googleapis-common-protos: field 1 is the gRPC code, field 2 the message.

    >>> status_body(3, "bad", JSON)
    b'{"code":3,"message":"bad"}'
    >>> status_body(3, "bad", PROTOBUF)
    b'\\x08\\x03\\x12\\x03bad'
    """
    if media == JSON:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + encode_varint(code) + b"\x12" + encode_varint(len(text)) + text
