"""OTLP spans as compact facts: who served or made a call, how long it took, whether it
failed, and how many real spans it stands for.

Sampling is honoured by weighting each span with its *adjusted count* (the number of spans
it represents, 1 / sampling probability), from, in this order:

1. the W3C ``tracestate`` entry OpenTelemetry's consistent probability sampling writes:
   ``ot=th:<hex>`` (a rejection threshold T of up to 56 bits, probability
   ``1 - T / 2**56``) or the older ``ot=p:<n>`` (probability ``2 ** -n``);
2. a span attribute ``sampling.probability`` or ``sampling.ratio`` (a probability in
   (0, 1]), or ``SampleRate`` (an adjusted count, the Honeycomb convention).

With none of these a span counts once: head samplers such as the SDK's
``TraceIdRatioBased`` record no ratio on the span, so an unsampled rate is reported.

>>> adjusted_count("ot=th:8", {}), adjusted_count("vendor=x,ot=p:2;rv:abc", {})
(2.0, 4.0)
>>> adjusted_count("", {"sampling.probability": 0.1}), adjusted_count("", {})
(10.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops.wire.otlp.attributes import UNKNOWN_SERVICE, resource_labels, value_of

SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5
STATUS_ERROR = 2
_TH_BITS = 56
_READ = frozenset(("peer.service", "sampling.probability", "sampling.ratio", "SampleRate"))
SERIES_LABELS = ("service", "service_namespace", "namespace", "environment")
"""Resource labels kept on the series derived from spans (identity, not instances)."""


def _probability_from_tracestate(tracestate: str) -> float | None:
    for member in tracestate.split(","):
        key, _, value = member.strip().partition("=")
        if key != "ot":
            continue
        for part in value.split(";"):
            sub, _, arg = part.partition(":")
            try:
                if sub == "th":
                    if not arg or len(arg) > _TH_BITS // 4:
                        return None
                    threshold = int(arg.ljust(_TH_BITS // 4, "0"), 16)
                    return 1.0 - threshold / float(1 << _TH_BITS)
                if sub == "p":
                    n = int(arg)
                    return None if n < 0 or n >= 63 else 2.0 ** -n
            except ValueError:
                return None
    return None


def adjusted_count(tracestate: str, attrs: Mapping[str, Any]) -> float:
    """How many spans one recorded span stands for (see the module docstring)."""
    probability = _probability_from_tracestate(tracestate) if tracestate else None
    if probability is None:
        for key in ("sampling.probability", "sampling.ratio"):
            value = attrs.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                probability = float(value)
                break
        else:
            rate = attrs.get("SampleRate")
            if isinstance(rate, int | float) and not isinstance(rate, bool) and rate >= 1:
                return float(rate)
    if probability is None or not 0.0 < probability <= 1.0:
        return 1.0
    return 1.0 / probability


@dataclass(slots=True)
class SpanFact:
    """What the engine keeps of one span."""

    service: str
    labels: dict[str, str]  # series identity: service (and namespace, environment)
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    kind: int
    start: float
    end: float
    error: bool
    weight: float
    peer: str  # the callee a client span names (peer.service), or ""

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(slots=True)
class DecodedSpans:
    spans: list[SpanFact] = field(default_factory=list)
    services: dict[str, dict[str, str]] = field(default_factory=dict)
    """Every service seen, with its resource labels (for topology nodes)."""
    skipped: int = 0
    """Spans without valid ids or times (the specification requires them)."""


def decode_spans(request: Any, resource_map: Mapping[str, str]) -> DecodedSpans:
    """Every span of an ``ExportTraceServiceRequest`` as a :class:`SpanFact`."""
    out = DecodedSpans()
    for rs in request.resource_spans:
        resource = resource_labels(rs.resource.attributes, resource_map)
        service = resource.setdefault("service", UNKNOWN_SERVICE)
        out.services.setdefault(service, resource)
        series = {k: resource[k] for k in SERIES_LABELS if k in resource}
        for ss in rs.scope_spans:
            for span in ss.spans:
                if (len(span.trace_id) != 16 or len(span.span_id) != 8
                        or not span.end_time_unix_nano):
                    out.skipped += 1
                    continue
                attrs = {kv.key: value_of(kv.value) for kv in span.attributes
                         if kv.key in _READ}
                peer = attrs.get("peer.service")
                out.spans.append(SpanFact(
                    service=service, labels=series, trace_id=span.trace_id,
                    span_id=span.span_id, parent_id=span.parent_span_id, kind=span.kind,
                    start=span.start_time_unix_nano / 1e9, end=span.end_time_unix_nano / 1e9,
                    error=span.status.code == STATUS_ERROR,
                    weight=adjusted_count(span.trace_state, attrs),
                    peer=peer if isinstance(peer, str) else ""))
    return out
