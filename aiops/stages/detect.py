"""Detect stage: metrics and logs in, Alertmanager-shaped alerts out."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from aiops.model import Alert, DecodeError, LogRecord, MetricSample
from aiops.model.columns import MetricColumns
from aiops.model.deviation import Deviation, encode_deviations
from streams.codecs import alert_key, decode_logs, decode_metric_columns, encode_alert
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics


class MetricAlerterLike(Protocol):
    def process_columns(self, batch: MetricColumns) -> list[Alert]: ...

    def expire(self, now: float, idle_seconds: float) -> list[Alert]: ...


class EntityAlerterLike(Protocol):
    @property
    def metrics(self) -> Sequence[str]: ...

    def process(self, samples: Sequence[MetricSample]) -> list[Alert]: ...


class DeviationTrackerLike(Protocol):
    def process_columns(self, batch: MetricColumns) -> list[Deviation]: ...


class LogAlerterLike(Protocol):
    def process(self, records: Sequence[LogRecord]) -> list[Alert]: ...


class DetectStage:
    """Decode, score and learn in event time; publish the alerts the policy emits."""

    name = "detect"

    def __init__(
        self,
        topics: Topics,
        metric_alerter: MetricAlerterLike,
        log_alerter: LogAlerterLike,
        *,
        log_decoder: Callable[[bytes], list[LogRecord]] = decode_logs,
        series_idle_s: float = 900.0,
        wall_clock: Callable[[], float] = time.time,
        entity_alerter: EntityAlerterLike | None = None,
        deviations: DeviationTrackerLike | None = None,
    ) -> None:
        self._deviations = deviations
        self._entity = entity_alerter
        self._entity_metrics = frozenset(entity_alerter.metrics) if entity_alerter else frozenset()
        self._series_idle_s = series_idle_s
        self._wall_clock = wall_clock
        # Event clock: newest metric timestamp seen, and the wall time it was seen at.
        self._event_now: float | None = None
        self._wall_at_event = 0.0
        self._last_expiry = 0.0
        self._topics = topics
        self._metrics = metric_alerter
        self._logs = log_alerter
        self._decode_logs = log_decoder

    def topics(self) -> list[str]:
        return [self._topics.metrics, self._topics.logs]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        parts: list[MetricColumns] = []
        records: list[LogRecord] = []
        dead: list[DeadLetter] = []
        for message in batch:
            try:
                if message.topic == self._topics.logs:
                    records.extend(self._decode_logs(message.value))
                else:
                    parts.append(decode_metric_columns(message.value))
            except DecodeError as exc:
                dead.append(DeadLetter(message, exc.reason))
        alerts: list[Alert] = []
        if parts:
            columns = MetricColumns.concat(parts)
            alerts.extend(self._metrics.process_columns(columns))
            if self._entity is not None:
                alerts.extend(self._entity.process(self._entity_samples(columns)))
            if len(columns):
                newest = float(columns.ts.max())
                if self._event_now is None or newest > self._event_now:
                    self._event_now = newest
                    self._wall_at_event = self._wall_clock()
        if records:
            alerts.extend(self._logs.process(records))
        outputs = [Record(self._topics.alerts, alert_key(a), encode_alert(a)) for a in alerts]
        if parts and self._deviations is not None:
            outputs.extend(self._deviation_records(columns))
        return StageResult(outputs=outputs, dead=dead)

    def _deviation_records(self, columns: MetricColumns) -> list[Record]:
        """The batch's deviating families, one message per node (see detectors.deviation)."""
        assert self._deviations is not None
        by_node: dict[str, list[Deviation]] = {}
        for dev in self._deviations.process_columns(columns):
            by_node.setdefault(dev.node, []).append(dev)
        return [Record(self._topics.deviations, node.encode(), encode_deviations(devs))
                for node, devs in by_node.items()]

    def _entity_samples(self, columns: MetricColumns) -> list[MetricSample]:
        wanted = [i for i, name in enumerate(columns.names) if name in self._entity_metrics]
        if not wanted:
            return []
        positions = np.flatnonzero(np.isin(columns.series, wanted)).tolist()
        return [columns.sample(i) for i in positions]

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        """Resolve alerts of series that stopped reporting (pods replaced, stale markers).

        Silence is measured on the event clock, advanced by wall time while no data comes,
        so a vanished series resolves in live operation and replays stay deterministic.
        """
        if self._event_now is None or wall_now - self._last_expiry < 30.0:
            return []
        self._last_expiry = wall_now
        now = self._event_now + max(0.0, wall_now - self._wall_at_event)
        resolved = self._metrics.expire(now, self._series_idle_s)
        return [Record(self._topics.alerts, alert_key(a), encode_alert(a)) for a in resolved]
