"""OTLP ingest stage: the Collector's Kafka topics in, the engine's own topics out.

Reads ``otlp_metrics``, ``otlp_logs`` and ``otlp_spans`` (names configurable) as the
OpenTelemetry Collector's Kafka exporter writes them, one ``Export*ServiceRequest`` per
record in ``otlp_proto`` or ``otlp_json`` (told apart per record), and the OTLP/HTTP
receivers put what they accept on the same topics. It writes:

* metric series (``{"series": [{"name", "labels", "type", "ts", "values"}]}``, keyed by
  service) on the metrics topic, mapped by :class:`aiops.ingest.metrics.MetricMapper`;
* log records (``{"records": [{"ts", "service", "level", "message", "labels"}]}``) on the
  logs topic;
* span-derived rate/error/latency series on the metrics topic and call-edge updates on the
  topology topic, from :class:`aiops.ingest.red.RedAggregator`.

A record that is not an OTLP request of its topic's signal goes to the dead letters with
the reason; the rest of the batch goes on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from aiops.ingest.metrics import MetricMapper
from aiops.ingest.red import RedAggregator
from aiops.ingest.series import Point, group_by_service
from aiops.model import DecodeError
from aiops.wire.otlp.attributes import RESOURCE_LABELS
from aiops.wire.otlp.body import Signal, parse, sniff_json
from aiops.wire.otlp.logs import decode_logs
from aiops.wire.otlp.metrics import decode_metrics
from aiops.wire.otlp.spans import DecodedSpans, decode_spans
from aiops.wire.shapes import dumps, loads, log_to_dict
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics

log = logging.getLogger(__name__)

BATCH_POINTS = 2000
MAX_FUTURE_S = 600.0


def series_records(points: Sequence[Point], topic: str) -> list[Record]:
    """Points as columnar ``series`` messages, one series entry per name, labels and type."""
    records = []
    for service, group in group_by_service(points).items():
        series: dict[tuple[str, tuple[tuple[str, str], ...], str], dict[str, object]] = {}
        for p in group:
            # labels come in one order per series (one mapping wrote them): no sort needed
            key = (p.name, tuple(p.labels.items()), p.type)
            entry = series.get(key)
            if entry is None:
                entry = series[key] = {"name": p.name, "labels": p.labels, "type": p.type,
                                       "ts": [], "values": []}
            entry["ts"].append(p.ts)  # type: ignore[attr-defined]
            entry["values"].append(p.value)  # type: ignore[attr-defined]
        entries = list(series.values())
        for i in range(0, len(entries), BATCH_POINTS):
            records.append(Record(topic, service.encode(),
                                  dumps({"series": entries[i:i + BATCH_POINTS]})))
    return records


class OtlpIngestStage:
    """See the module docstring."""

    name = "otlp"

    def __init__(self, topics: Topics, *, resource_labels: Mapping[str, str] = RESOURCE_LABELS,
                 red: RedAggregator | None = None, mapper: MetricMapper | None = None,
                 max_record_bytes: int = 64 * 1024 * 1024,
                 topology_history: Callable[[], list[bytes]] | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._topics = topics
        self._topology_history = topology_history
        self._resource = dict(resource_labels)
        self._red = red or RedAggregator()
        self._mapper = mapper or MetricMapper()
        self._max_record_bytes = max_record_bytes
        self._wall_clock = wall_clock
        self._signals = {topics.otlp_metrics: Signal.METRICS, topics.otlp_logs: Signal.LOGS,
                         topics.otlp_spans: Signal.TRACES}
        self._wall_at_clock = 0.0
        self._late_reported = 0
        self.skipped = 0

    def topics(self) -> list[str]:
        return list(self._signals)

    def start(self) -> list[Record]:
        """Take back the call edges announced before a restart, so they can expire."""
        if self._topology_history is not None:
            for value in self._topology_history():
                try:
                    update = loads(value)
                except DecodeError:
                    continue
                if isinstance(update, dict):
                    self._red.recall(update)
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        result = StageResult()
        points: list[Point] = []
        logs: dict[str, list[dict[str, object]]] = {}
        clock = self._red.clock
        for message in batch:
            signal = self._signals.get(message.topic)
            if signal is None:
                result.dead.append(DeadLetter(message, f"not an OTLP topic: {message.topic}"))
                continue
            try:
                if len(message.value) > self._max_record_bytes:
                    raise DecodeError(f"record of {len(message.value)} bytes is over "
                                      f"{self._max_record_bytes}", kind="OTLP record")
                request = parse(signal, message.value, json=sniff_json(message.value))
                if signal is Signal.METRICS:
                    decoded = decode_metrics(request, self._resource)
                    points += self._mapper.map_numbers(decoded.numbers)
                    points += self._mapper.map_distributions(decoded.distributions)
                    self.skipped += decoded.skipped
                elif signal is Signal.LOGS:
                    decoded_logs = decode_logs(request, self._resource)
                    for rec in decoded_logs.records:
                        logs.setdefault(rec.service, []).append(log_to_dict(rec))
                    self.skipped += decoded_logs.skipped
                else:
                    decoded_spans = decode_spans(request, self._resource)
                    self._drop_future(decoded_spans)
                    self._red.add(decoded_spans)
                    self.skipped += decoded_spans.skipped
            except DecodeError as exc:
                result.dead.append(DeadLetter(message, exc.reason))
        if self._red.clock != clock:
            self._wall_at_clock = self._wall_clock()
        red = self._red.close()
        self._report_late()
        points += red.points
        result.outputs += series_records(points, self._topics.metrics)
        for service, records in logs.items():
            for i in range(0, len(records), BATCH_POINTS):
                result.outputs.append(Record(self._topics.logs, service.encode(),
                                             dumps({"records": records[i:i + BATCH_POINTS]})))
        result.outputs += self._topology(red.updates)
        return result

    def _drop_future(self, decoded: DecodedSpans) -> None:
        """Spans that end more than ``MAX_FUTURE_S`` after the wall clock are a sender's
        broken clock: counting them would move the event clock ahead and close, early,
        every window the correct spans belong to."""
        horizon = self._wall_clock() + MAX_FUTURE_S
        if any(span.end > horizon for span in decoded.spans):
            kept = [span for span in decoded.spans if span.end <= horizon]
            decoded.skipped += len(decoded.spans) - len(kept)
            log.warning("%d span(s) end more than %.0f s in the future; not counted",
                        len(decoded.spans) - len(kept), MAX_FUTURE_S)
            decoded.spans = kept

    def _report_late(self) -> None:
        late = self._red.late + self._red.dropped
        if late > self._late_reported:
            log.warning("%d span(s) ended in windows already closed or over the window "
                        "limit and were not counted (otlp.span_grace_s is %.0f s)",
                        late - self._late_reported, self._red.grace_s)
            self._late_reported = late

    def _topology(self, updates: list[dict[str, object]]) -> list[Record]:
        return [Record(self._topics.topology, b"topology", dumps(u)) for u in updates]

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        """Close the windows whose spans have all come, moving the event clock on by the
        wall time since the last span, so the last window of a burst is not held forever."""
        clock = self._red.clock
        if clock is None:
            return []
        red = self._red.close(clock + max(0.0, wall_now - self._wall_at_clock))
        return series_records(red.points, self._topics.metrics) + self._topology(red.updates)
