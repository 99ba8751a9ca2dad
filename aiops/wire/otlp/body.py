"""OTLP request bodies: which signal, which encoding, decompression with limits, parsing.

One decoder serves both transports. OTLP/HTTP says what a body is in ``Content-Type``
(``application/x-protobuf`` or ``application/json``) and ``Content-Encoding`` (``gzip`` or
none). A Kafka record written by the Collector's Kafka exporter has no headers that say it,
but the two encodings cannot be confused: an ``otlp_json`` record is a JSON object (first
byte ``{``), and an ``otlp_proto`` record starts with field 1 of the request (byte ``0x0a``)
or is empty, so :func:`sniff_json` tells them apart and a topic may carry both.

OTLP/JSON differs from protobuf's canonical JSON mapping in one place that matters: trace
and span ids are hex strings, not base64. They are rewritten before the message is parsed
with ``google.protobuf.json_format``; unknown fields are ignored, as the specification asks
of receivers.

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
import zlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import orjson
from google.protobuf import json_format
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

from aiops.model import DecodeError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_FIELDS = frozenset(("traceId", "spanId", "parentSpanId", "trace_id", "span_id",
                        "parent_span_id"))


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


class TooLargeError(DecodeError):
    """A body that is (or would decompress to) more than the limit allows."""

    def __init__(self, reason: str, *, limit: int, kind: str = "OTLP request") -> None:
        super().__init__(reason, kind=kind)
        self.limit = limit


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
    aiops.wire.otlp.body.TooLargeError: cannot decode OTLP request: body decompresses to \
more than 100 bytes
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise TooLargeError(f"body is more than {limit} bytes", limit=limit)
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
            raise TooLargeError(f"body decompresses to more than {limit} bytes", limit=limit)
        out += inflater.flush()
    except zlib.error as exc:
        raise DecodeError(f"body is not valid {encoding}: {exc}", kind="OTLP request") from exc
    if not inflater.eof:
        raise DecodeError(f"{encoding} stream is truncated", kind="OTLP request")
    if len(out) > limit:
        raise TooLargeError(f"body decompresses to more than {limit} bytes", limit=limit)
    return out


def sniff_json(data: bytes) -> bool:
    """Whether a Kafka record is ``otlp_json`` (a JSON object) rather than ``otlp_proto``."""
    return data[:1] == b"{" or data.lstrip()[:1] == b"{"


def _hex_ids(node: Any) -> None:
    """Rewrite OTLP/JSON's hex trace/span ids as base64, in place, for json_format."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    raw = bytes.fromhex(value)
                except ValueError as exc:
                    raise DecodeError(f"{key} {value[:40]!r} is not hex",
                                      kind="OTLP request") from exc
                node[key] = base64.b64encode(raw).decode()
            elif isinstance(value, dict | list):
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _hex_ids(item)


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
            _hex_ids(doc)
            json_format.ParseDict(doc, message, ignore_unknown_fields=True)
        except DecodeError as exc:
            raise DecodeError(exc.reason, kind=kind) from exc
        except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
            raise DecodeError(f"not an OTLP/JSON {signal.value} request: {exc}",
                              kind=kind) from exc
        return message
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
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
