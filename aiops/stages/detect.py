"""Detect stage: metrics and logs in, Alertmanager-shaped alerts out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from aiops.model import Alert, DecodeError, LogRecord
from aiops.model.columns import MetricColumns
from streams.codecs import alert_key, decode_logs, decode_metric_columns, encode_alert
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics


class MetricAlerterLike(Protocol):
    def process_columns(self, batch: MetricColumns) -> list[Alert]: ...


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
    ) -> None:
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
            alerts.extend(self._metrics.process_columns(MetricColumns.concat(parts)))
        if records:
            alerts.extend(self._logs.process(records))
        outputs = [Record(self._topics.alerts, alert_key(a), encode_alert(a)) for a in alerts]
        return StageResult(outputs=outputs, dead=dead)

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        return []
