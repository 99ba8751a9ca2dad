"""Spans as signals: rate, errors and latency per service and per call edge, and the live
call edges of the service graph.

Spans are counted in fixed windows of event time (``window_s``, by their end time); a window
is closed, and its series emitted, once the event clock (the newest span end seen, moved on
by wall time while nothing arrives) passes its end by ``grace_s``, so spans a little late
still count. A span for a window already closed is dropped and counted in ``late``.

* **Per service** (labels ``service`` and the resource's namespace/environment), from the
  spans a service *serves*: SERVER and CONSUMER spans, and root spans other than calls:
  ``trace_request_rate`` (requests/s), ``trace_error_ratio`` (share with status ERROR)
  and ``trace_latency_p95_seconds``. A service that served before and served nothing in a
  window gets a rate of 0 (until ``edge_ttl_s`` of silence): a service that stops
  answering is a signal too.
* **Per call edge** (labels ``service`` = the caller, ``peer`` = the callee), from the
  caller's CLIENT and PRODUCER spans, as the caller saw the call:
  ``trace_call_rate``, ``trace_call_error_ratio``, ``trace_call_latency_p95_seconds``.
  A slow callee shows here even when its own spans are not exported. The callee is the
  span's ``peer.service`` attribute, else the service of a span whose parent it is.
* **Topology**: a call edge (from client spans, or a span whose parent belongs to another
  service) is announced once as an ``add_edge`` update (``origin: traces``, ``ts``: the end
  of the window it was seen in) and withdrawn with ``remove_edge`` when it has not been seen
  for ``edge_ttl_s`` of event time. After a restart, :meth:`RedAggregator.recall` takes
  the announcements back from the topology topic, so those edges still expire. Call edges
  of a topology file (``file_edges``) are adopted once traces show their caller calling
  anything: from then on they too must be seen in traces or expire, so a stale file's
  edges are replaced by what the traces show; a caller never traced keeps its file edges.

Counts are weighted by each span's adjusted count (sampling, see
:mod:`aiops.wire.otlp.spans`). Memory is bounded: parent lookups remember the last
``join_size`` spans, and a window holds at most ``max_window_spans`` spans (the rest are
dropped and counted in ``dropped``); a held span costs a few hundred bytes.

>>> from aiops.wire.otlp.spans import SpanFact, DecodedSpans
>>> def span(svc, sid, parent, kind, end, dur, error=False):
...     return SpanFact(svc, {"service": svc}, b"t" * 16, sid, parent, kind, end - dur, end,
...                     error, 1.0, "")
>>> red = RedAggregator(window_s=10, grace_s=5)
>>> red.add(DecodedSpans([span("web", b"c" * 8, b"r" * 8, 3, 3.0, 0.5),
...                       span("cart", b"s" * 8, b"c" * 8, 2, 2.9, 0.4, error=True)]))
>>> out = red.close(20.0)
>>> sorted((p.name, p.labels["service"], p.value) for p in out.points)[:3]
[('trace_call_error_ratio', 'web', 0.0), ('trace_call_latency_p95_seconds', 'web', 0.5), \
('trace_call_rate', 'web', 0.1)]
>>> out.updates
[{'op': 'add_edge', 'source': 'web', 'target': 'cart', 'kind': 'calls', 'origin': 'traces', \
'ts': 10.0}]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiops.ingest.series import Point, weighted_quantile
from aiops.wire.otlp.spans import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_CONSUMER,
    SPAN_KIND_PRODUCER,
    SPAN_KIND_SERVER,
    DecodedSpans,
    SpanFact,
)

_SERVES = frozenset((SPAN_KIND_SERVER, SPAN_KIND_CONSUMER))
_CALLS = frozenset((SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER))


@dataclass(slots=True)
class _Acc:
    labels: dict[str, str]
    count: float = 0.0
    errors: float = 0.0
    durations: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, span: SpanFact) -> None:
        self.count += span.weight
        if span.error:
            self.errors += span.weight
        self.durations.append(span.duration)
        self.weights.append(span.weight)


@dataclass(slots=True)
class _Window:
    served: dict[tuple[tuple[str, str], ...], _Acc] = field(default_factory=dict)
    calls: list[SpanFact] = field(default_factory=list)
    children: list[tuple[bytes, str]] = field(default_factory=list)  # (trace+parent, service)
    spans: int = 0


@dataclass(slots=True)
class RedOutput:
    points: list[Point] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)


class RedAggregator:
    """See the module docstring. Not thread-safe: one per stage worker."""

    def __init__(self, window_s: float = 10.0, grace_s: float | None = None,
                 edge_ttl_s: float = 900.0, join_size: int = 500_000,
                 max_window_spans: int = 500_000, quantile: float = 0.95,
                 file_edges: Iterable[tuple[str, str]] = ()) -> None:
        self.window_s = window_s
        self.quantile = quantile
        q = f"p{round(quantile * 100):d}"
        self._served_names = ("trace_request_rate", "trace_error_ratio",
                              f"trace_latency_{q}_seconds")
        self._call_names = ("trace_call_rate", "trace_call_error_ratio",
                            f"trace_call_latency_{q}_seconds")
        self.grace_s = window_s if grace_s is None else grace_s
        self.edge_ttl_s = edge_ttl_s
        self._join_size = join_size
        self._max_window_spans = max_window_spans
        self._windows: dict[int, _Window] = {}
        self._closed_before = -math.inf  # index of the first window still open
        self._service_of: dict[bytes, str] = {}  # trace+span id -> service
        self._callee_of: dict[bytes, str] = {}  # trace+parent span id -> child's service
        self._edges: dict[tuple[str, str], float] = {}  # live edge -> last seen
        self._serving: dict[tuple[tuple[str, str], ...], float] = {}  # series -> last seen
        # call edges of the topology file, by caller, until traces show that caller calling
        self._file_edges: dict[str, set[str]] = {}
        for source, target in file_edges:
            self._file_edges.setdefault(source, set()).add(target)
        self.clock: float | None = None
        self.late = 0
        self.dropped = 0

    def add(self, decoded: DecodedSpans) -> None:
        window_s = self.window_s
        for span in decoded.spans:
            index = int(span.end // window_s)
            if index < self._closed_before:
                self.late += 1
                continue
            window = self._windows.get(index)
            if window is None:
                window = self._windows[index] = _Window()
            if window.spans >= self._max_window_spans:
                self.dropped += 1
                continue
            window.spans += 1
            self._remember(self._service_of, span.trace_id + span.span_id, span.service)
            if span.parent_id:
                parent = span.trace_id + span.parent_id
                self._remember(self._callee_of, parent, span.service)
                window.children.append((parent, span.service))
            if span.kind in _CALLS:
                window.calls.append(span)
            elif span.kind in _SERVES or not span.parent_id:
                key = tuple(span.labels.items())
                acc = window.served.get(key)
                if acc is None:
                    acc = window.served[key] = _Acc(span.labels)
                acc.add(span)
            if self.clock is None or span.end > self.clock:
                self.clock = span.end

    def _remember(self, table: dict[bytes, str], key: bytes, value: str) -> None:
        if len(table) >= self._join_size:
            for old in list(table)[: self._join_size // 4]:  # the oldest quarter
                del table[old]
        table[key] = value

    def close(self, now: float | None = None) -> RedOutput:
        """Emit every window whose end is ``grace_s`` before ``now`` (default: the clock)."""
        out = RedOutput()
        now = self.clock if now is None else now
        if now is None:
            return out
        for index in sorted(self._windows):
            end = float((index + 1) * self.window_s)
            if end + self.grace_s > now:
                break
            self._emit(self._windows.pop(index), end, out)
        first_open = math.floor((now - self.grace_s) / self.window_s)
        self._closed_before = max(self._closed_before, first_open)
        return out

    def _emit(self, window: _Window, end: float, out: RedOutput) -> None:
        per_s = 1.0 / self.window_s
        for key, acc in window.served.items():
            self._serving[key] = end
            self._series(out, self._served_names, acc, end, per_s)
        for key, last in list(self._serving.items()):
            if key in window.served:
                continue
            if end - last > self.edge_ttl_s:
                del self._serving[key]
            else:
                out.points.append(Point(self._served_names[0], dict(key), end, 0.0))
        edges: dict[tuple[str, str], _Acc] = {}
        for span in window.calls:
            callee = span.peer or self._callee_of.get(span.trace_id + span.span_id, "")
            if callee and callee != span.service:
                call = edges.get((span.service, callee))
                if call is None:
                    call = edges[(span.service, callee)] = _Acc({"service": span.service,
                                                                 "peer": callee})
                call.add(span)
        for call in edges.values():
            self._series(out, self._call_names, call, end, per_s)
        seen = set(edges)
        for parent, service in window.children:
            caller = self._service_of.get(parent)
            if caller is not None and caller != service:
                seen.add((caller, service))
        for caller in {source for source, _ in seen} & self._file_edges.keys():
            # The caller is traced now: its file edges must show up in traces too, or they
            # expire like any edge traces stopped seeing (a stale file is replaced).
            for callee in self._file_edges.pop(caller):
                self._edges.setdefault((caller, callee), end)
        for edge in sorted(seen):
            if edge not in self._edges:
                out.updates.append({"op": "add_edge", "source": edge[0], "target": edge[1],
                                    "kind": "calls", "origin": "traces", "ts": end})
            self._edges[edge] = end
        for edge, last in sorted(self._edges.items()):
            if end - last > self.edge_ttl_s:
                del self._edges[edge]
                out.updates.append({"op": "remove_edge", "source": edge[0],
                                    "target": edge[1], "origin": "traces", "ts": end})

    def recall(self, update: Mapping[str, Any]) -> None:
        """Take back an edge this aggregator announced before a restart (an update read
        from the topology topic), so it still expires if it is not seen again. The edge
        counts as seen when it was announced."""
        if update.get("origin") != "traces":
            return
        edge = (str(update.get("source")), str(update.get("target")))
        ts = update.get("ts")
        if update.get("op") == "add_edge" and isinstance(ts, int | float):
            self._edges[edge] = max(float(ts), self._edges.get(edge, float(ts)))
        elif update.get("op") == "remove_edge":
            self._edges.pop(edge, None)

    def _series(self, out: RedOutput, names: tuple[str, str, str], acc: _Acc, end: float,
                per_s: float) -> None:
        rate, errors, latency = names
        labels = dict(acc.labels)
        out.points.append(Point(rate, labels, end, acc.count * per_s))
        if acc.count > 0:
            out.points.append(Point(errors, labels, end, acc.errors / acc.count))
            value = weighted_quantile(self.quantile, acc.durations, acc.weights)
            if value is not None:
                out.points.append(Point(latency, labels, end, value))

    def live_edges(self) -> list[tuple[str, str]]:
        return sorted(self._edges)
