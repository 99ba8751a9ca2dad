"""OTLP requests cut into Kafka records as the Collector's Kafka exporter writes them: one
``Export*ServiceRequest`` in ``otlp_proto`` per record, keyed by ``service.name`` (as the
exporter's ``partition_*_by_resource_attributes`` does), so one service's data stays in one
partition and its cumulative series meet in one ingest worker.

A record stays under ``limit`` bytes (Kafka refuses messages over its ``message.max.bytes``,
1 MB by default): a request too large is cut by service, then by scope, then by halves of
its spans, data points' metrics or log records.

>>> from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
>>> from aiops.wire.otlp.body import Signal
>>> request = ExportTraceServiceRequest()
>>> for name in ("web", "cart", "web"):
...     rs = request.resource_spans.add()
...     kv = rs.resource.attributes.add(key="service.name")
...     kv.value.string_value = name
...     _ = rs.scope_spans.add().spans.add(name="op", trace_id=b"t" * 16, span_id=b"s" * 8)
>>> [(key, len(ExportTraceServiceRequest.FromString(data).resource_spans))
...  for key, data in split_request(Signal.TRACES, request)]
[('web', 2), ('cart', 1)]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiops.wire.otlp.attributes import UNKNOWN_SERVICE
from aiops.wire.otlp.body import REQUESTS, Signal

MAX_RECORD_BYTES = 900_000
FIELDS: dict[Signal, tuple[str, str, str]] = {
    Signal.TRACES: ("resource_spans", "scope_spans", "spans"),
    Signal.METRICS: ("resource_metrics", "scope_metrics", "metrics"),
    Signal.LOGS: ("resource_logs", "scope_logs", "log_records"),
}


def service_name(resource: Any) -> str:
    for kv in resource.attributes:
        if kv.key == "service.name" and kv.value.string_value:
            name: str = kv.value.string_value
            return name
    return UNKNOWN_SERVICE


def split_request(signal: Signal, request: Any, limit: int = MAX_RECORD_BYTES,
                  raw: bytes | None = None) -> Iterator[tuple[str, bytes]]:
    """``(service, serialized request)`` pairs covering everything in ``request``;
    ``raw``, the protobuf ``request`` was parsed from, is passed on as it is when the
    request is one service's and small enough (what an SDK sends): no re-encoding."""
    resource_field, _, _ = FIELDS[signal]
    entries = getattr(request, resource_field)
    by_service: dict[str, list[Any]] = {}
    for entry in entries:
        by_service.setdefault(service_name(entry.resource), []).append(entry)
    if len(by_service) == 1:
        data: bytes = raw if raw is not None else request.SerializeToString()
        if len(data) <= limit:
            yield next(iter(by_service)), data
            return
    for service, group in by_service.items():
        message = REQUESTS[signal]()
        getattr(message, resource_field).extend(group)
        data = message.SerializeToString()
        if len(data) <= limit:
            yield service, data
            continue
        for entry in group:
            for part in _split_entry(signal, entry, limit):
                yield service, part


def _split_entry(signal: Signal, entry: Any, limit: int) -> Iterator[bytes]:
    _, scope_field, items_field = FIELDS[signal]
    for scope in getattr(entry, scope_field):
        items = list(getattr(scope, items_field))
        yield from _halves(signal, entry, scope, items, limit)


def _halves(signal: Signal, entry: Any, scope: Any, items: list[Any], limit: int
            ) -> Iterator[bytes]:
    resource_field, scope_field, items_field = FIELDS[signal]
    message = REQUESTS[signal]()
    part = getattr(message, resource_field).add()
    part.resource.CopyFrom(entry.resource)
    part.schema_url = entry.schema_url
    scope_part = getattr(part, scope_field).add()
    scope_part.scope.CopyFrom(scope.scope)
    scope_part.schema_url = scope.schema_url
    getattr(scope_part, items_field).extend(items)
    data: bytes = message.SerializeToString()
    if len(data) <= limit or len(items) <= 1:
        yield data  # one item over the limit is the broker's to refuse
        return
    middle = len(items) // 2
    yield from _halves(signal, entry, scope, items[:middle], limit)
    yield from _halves(signal, entry, scope, items[middle:], limit)


def invalid_items(signal: Signal, request: Any) -> tuple[int, int, str]:
    """How many items there are, how many the engine will not use, and why (OTLP's
    ``partial_success``):
    spans without a valid trace id, span id or end time; log records without a time;
    histogram points whose bucket counts do not match their bounds."""
    total = bad = 0
    reason = ""
    _, scope_field, items_field = FIELDS[signal]
    for entry in getattr(request, FIELDS[signal][0]):
        for scope in getattr(entry, scope_field):
            for item in getattr(scope, items_field):
                total += 1
                if signal is Signal.TRACES:
                    if (len(item.trace_id) != 16 or len(item.span_id) != 8
                            or not item.end_time_unix_nano):
                        bad += 1
                        reason = "spans need a 16-byte trace_id, an 8-byte span_id and an " \
                                 "end time"
                elif signal is Signal.LOGS:
                    if not item.time_unix_nano and not item.observed_time_unix_nano:
                        bad += 1
                        reason = "log records need time_unix_nano or observed_time_unix_nano"
                elif item.WhichOneof("data") == "histogram":
                    for p in item.histogram.data_points:
                        if len(p.bucket_counts) != len(p.explicit_bounds) + 1 and (
                                p.bucket_counts or p.explicit_bounds):
                            bad += 1
                            reason = "histogram points need one more bucket count than " \
                                     "explicit bounds"
    return total, bad, reason
