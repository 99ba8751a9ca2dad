"""Detect stage: metrics and logs in, Alertmanager-shaped alerts out.

State belongs to input partitions: each partition of the metrics topic has its own metric
semantics, metric alerter (detector and alert policy) and entity alerter, each partition of
the logs topic its own log alerter. A partition's state moves with the partition: with a
:class:`CheckpointSink`, it is saved (pickled) with the offset it reached when offsets are
committed (every ``checkpoint_interval_s``, on revocation and on a clean stop) and restored
when the partition is assigned, and the runner resumes the partition from that offset, so a
restarted or rebalanced worker neither learns every series again nor misses what an
uninterrupted one would have caught (``docs/design.md``).
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from aiops.acceptance import COMMAND_PREFIX, decode_accept_message
from aiops.model import Alert, DecodeError, LogRecord, MetricSample
from aiops.model.columns import MetricColumns
from aiops.model.deviation import Deviation, encode_deviations
from aiops.wire.shapes import alert_key, decode_logs, decode_metric_columns, encode_alert
from detectors.semantics import MetricSemantics
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult, TopicPartitionKey
from streams.topics import Topics

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1


class MetricAlerterLike(Protocol):
    def process_columns(self, batch: MetricColumns) -> list[Alert]: ...

    def expire(self, now: float, idle_seconds: float) -> list[Alert]: ...

    def relearn(self, keys: Sequence[str]) -> None: ...

    def accept(self, match: Callable[[Mapping[str, str]], bool], ts: float,
               note: str = ...) -> list[Alert]: ...

    def export_state(self) -> dict[str, Any]: ...

    def import_state(self, state: Mapping[str, Any]) -> None: ...


class EntityAlerterLike(Protocol):
    @property
    def metrics(self) -> Sequence[str]: ...

    def process(self, samples: Sequence[MetricSample]) -> list[Alert]: ...


class DeviationTrackerLike(Protocol):
    def process_columns(self, batch: MetricColumns) -> list[Deviation]: ...


class LogAlerterLike(Protocol):
    def process(self, records: Sequence[LogRecord]) -> list[Alert]: ...


class LogDeviationLike(Protocol):
    def process(self, records: Sequence[LogRecord]) -> list[Deviation]: ...


class CheckpointSink(Protocol):
    """Where partition state is kept (:class:`aiops.storage.checkpoints.CheckpointStore`)."""

    def save(self, topic: str, partition: int, next_offset: int, state: bytes, *,
             saved_at: float) -> None: ...

    def load(self, topic: str, partition: int) -> tuple[int, bytes] | None: ...


@dataclass
class _MetricPartition:
    semantics: MetricSemantics
    alerter: MetricAlerterLike
    entity: EntityAlerterLike | None
    event_now: float = -np.inf
    #: Per-series robust deviation for the diagnosis (``detectors.deviation``), if enabled.
    deviations: DeviationTrackerLike | None = None


@dataclass
class _Offsets:
    handled: dict[TopicPartitionKey, int] = field(default_factory=dict)
    saved_at: dict[TopicPartitionKey, float] = field(default_factory=dict)


class DetectStage:
    """Decode, know the metric kind, score and learn in event time; publish the alerts the
    policy emits. Alerter arguments are factories: one alerter per input partition."""

    name = "detect"

    def __init__(
        self,
        topics: Topics,
        metric_alerter: Callable[[], MetricAlerterLike],
        log_alerter: Callable[[], LogAlerterLike],
        *,
        log_decoder: Callable[[bytes], list[LogRecord]] = decode_logs,
        series_idle_s: float = 900.0,
        wall_clock: Callable[[], float] = time.time,
        entity_alerter: Callable[[], EntityAlerterLike] | None = None,
        semantics: Callable[[], MetricSemantics] = MetricSemantics,
        checkpoints: CheckpointSink | None = None,
        checkpoint_interval_s: float = 10.0,
        deviations: Callable[[], DeviationTrackerLike] | None = None,
        log_deviations: Callable[[], LogDeviationLike] | None = None,
    ) -> None:
        self._new_metric_alerter = metric_alerter
        self._new_deviations = deviations
        self._new_log_deviations = log_deviations
        self._new_log_alerter = log_alerter
        self._new_entity = entity_alerter
        self._new_semantics = semantics
        self._series_idle_s = series_idle_s
        self._wall_clock = wall_clock
        # Event clock: newest metric timestamp seen, and the wall time it was seen at.
        self._event_now: float | None = None
        self._wall_at_event = 0.0
        self._last_expiry = 0.0
        self._topics = topics
        self._decode_logs = log_decoder
        self._metrics: dict[int, _MetricPartition] = {}
        self._logs: dict[int, LogAlerterLike] = {}
        self._log_deviations: dict[int, LogDeviationLike] = {}
        self._entity_metrics: frozenset[str] | None = None
        self._checkpoints = checkpoints
        self._checkpoint_interval_s = checkpoint_interval_s
        self._offsets = _Offsets()

    def topics(self) -> list[str]:
        return [self._topics.metrics, self._topics.logs]

    def start(self) -> list[Record]:
        return []

    # ------------------------------------------------------------------ partitions

    def _metric_part(self, partition: int) -> _MetricPartition:
        part = self._metrics.get(partition)
        if part is None:
            entity = self._new_entity() if self._new_entity is not None else None
            part = self._metrics[partition] = _MetricPartition(
                self._new_semantics(), self._new_metric_alerter(), entity,
                deviations=self._new_deviations() if self._new_deviations else None)
        return part

    def _log_part(self, partition: int) -> LogAlerterLike:
        found = self._logs.get(partition)
        if found is None:
            found = self._logs[partition] = self._new_log_alerter()
        return found

    # ------------------------------------------------------------------ batches

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        by_part: dict[TopicPartitionKey, list[Incoming]] = {}
        for message in batch:
            by_part.setdefault((message.topic, message.partition), []).append(message)
        alerts: list[Alert] = []
        dead: list[DeadLetter] = []
        deviations: list[Deviation] = []
        for (topic, partition), messages in by_part.items():
            if topic == self._topics.logs:
                records: list[LogRecord] = []
                for message in messages:
                    try:
                        records.extend(self._decode_logs(message.value))
                    except DecodeError as exc:
                        dead.append(DeadLetter(message, exc.reason))
                if records:
                    alerts.extend(self._log_part(partition).process(records))
                    if self._new_log_deviations is not None:
                        tracker = self._log_deviations.get(partition)
                        if tracker is None:
                            tracker = self._log_deviations[partition] = (
                                self._new_log_deviations())
                        deviations.extend(tracker.process(records))
            else:
                alerts.extend(self._metric_messages(partition, messages, dead, deviations))
            newest = max(m.offset for m in messages) + 1
            key = (topic, partition)
            if newest > self._offsets.handled.get(key, -1):
                self._offsets.handled[key] = newest
        outputs = [Record(self._topics.alerts, alert_key(a), encode_alert(a)) for a in alerts]
        outputs.extend(self._deviation_records(deviations))
        return StageResult(outputs=outputs, dead=dead)

    def _deviation_records(self, deviations: Sequence[Deviation]) -> list[Record]:
        """The batch's deviating families, one message per node (see detectors.deviation)."""
        by_node: dict[str, list[Deviation]] = {}
        for dev in deviations:
            by_node.setdefault(dev.node, []).append(dev)
        return [Record(self._topics.deviations, node.encode(), encode_deviations(devs))
                for node, devs in by_node.items()]

    def _metric_messages(self, partition: int, messages: Sequence[Incoming],
                         dead: list[DeadLetter], deviations: list[Deviation]) -> list[Alert]:
        """Samples in order; an accept command cuts the run, so it applies exactly where it
        sits among the samples."""
        part = self._metric_part(partition)
        alerts: list[Alert] = []
        run: list[MetricColumns] = []
        for message in messages:
            if message.value.startswith(COMMAND_PREFIX):
                alerts.extend(self._score(part, run, deviations))
                run = []
                try:
                    cmd = decode_accept_message(message.value)
                except DecodeError as exc:
                    dead.append(DeadLetter(message, exc.reason))
                    continue
                at = part.event_now if np.isfinite(part.event_now) else cmd.at
                note = f"accepted by {cmd.actor or 'someone'}" + (
                    f": {cmd.note}" if cmd.note else "")
                alerts.extend(part.alerter.accept(cmd.matches, at, note))
                continue
            try:
                run.append(decode_metric_columns(message.value))
            except DecodeError as exc:
                dead.append(DeadLetter(message, exc.reason))
        alerts.extend(self._score(part, run, deviations))
        return alerts

    def _score(self, part: _MetricPartition, run: list[MetricColumns],
               deviations: list[Deviation]) -> list[Alert]:
        if not run:
            return []
        raw = MetricColumns.concat(run)
        if len(raw) == 0:
            return []
        signals = part.semantics.apply(raw)
        if part.semantics.restarted:  # a gap or a restart of the target: learn it afresh
            part.alerter.relearn(part.semantics.restarted)
        alerts = part.alerter.process_columns(signals)
        if part.deviations is not None:  # on the signals: a counter deviates as a rate
            deviations.extend(part.deviations.process_columns(signals))
        if part.entity is not None:
            alerts.extend(part.entity.process(self._entity_samples(part.entity, signals)))
        newest = float(raw.ts.max())
        part.event_now = max(part.event_now, newest)
        if self._event_now is None or newest > self._event_now:
            self._event_now = newest
            self._wall_at_event = self._wall_clock()
        return alerts

    def _entity_samples(self, entity: EntityAlerterLike, columns: MetricColumns
                        ) -> list[MetricSample]:
        if self._entity_metrics is None:
            self._entity_metrics = frozenset(entity.metrics)
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
        resolved: list[Alert] = []
        for part in self._metrics.values():
            resolved.extend(part.alerter.expire(now, self._series_idle_s))
            part.semantics.forget_idle(now - self._series_idle_s)
        return [Record(self._topics.alerts, alert_key(a), encode_alert(a)) for a in resolved]

    # ------------------------------------------------------------------ checkpoints

    def assigned(self, partitions: Sequence[TopicPartitionKey]
                 ) -> dict[TopicPartitionKey, int]:
        """Restore the state saved for newly assigned partitions; resume where it was saved."""
        resume: dict[TopicPartitionKey, int] = {}
        if self._checkpoints is None:
            return resume
        for topic, partition in partitions:
            key = (topic, partition)
            if (topic == self._topics.metrics and partition in self._metrics) or (
                    topic == self._topics.logs and partition in self._logs):
                continue  # still held (a rebalance gave it back): the memory is newer
            try:
                found = self._checkpoints.load(topic, partition)
                if found is None:
                    continue
                offset, blob = found
                self._restore(topic, partition, blob)
            except Exception:
                log.exception("detect: checkpoint of %s/%d unusable; learning it afresh",
                              topic, partition)
                continue
            resume[key] = offset
            self._offsets.handled[key] = offset
            self._offsets.saved_at[key] = self._wall_clock()
        return resume

    def revoked(self, partitions: Sequence[TopicPartitionKey]) -> None:
        """Save the partitions' state (all handled input is committed), then drop it.
        Without a checkpoint sink the state stays (a partition that comes back keeps it)."""
        if self._checkpoints is None:
            return
        for key in partitions:
            self._save(key)
            topic, partition = key
            if topic == self._topics.metrics:
                self._metrics.pop(partition, None)
            elif topic == self._topics.logs:
                self._logs.pop(partition, None)
                self._log_deviations.pop(partition, None)
            self._offsets.handled.pop(key, None)
            self._offsets.saved_at.pop(key, None)

    def committed(self, offsets: Mapping[TopicPartitionKey, int], *, final: bool = False
                  ) -> None:
        """Save partitions whose last save is older than the checkpoint interval (all of
        them when the worker stops)."""
        if self._checkpoints is None:
            return
        now = self._wall_clock()
        for key in list(self._offsets.handled):
            if final or now - self._offsets.saved_at.get(key, -np.inf) >= \
                    self._checkpoint_interval_s:
                self._save(key)

    def _save(self, key: TopicPartitionKey) -> None:
        if self._checkpoints is None:
            return
        offset = self._offsets.handled.get(key)
        if offset is None:
            return
        topic, partition = key
        try:
            blob = self._state_blob(topic, partition)
            if blob is None:
                return
            self._checkpoints.save(topic, partition, offset, blob, saved_at=self._wall_clock())
            self._offsets.saved_at[key] = self._wall_clock()
        except Exception:  # a failed save costs relearning after a restart, nothing else
            log.exception("detect: could not checkpoint %s/%d", topic, partition)

    def _state_blob(self, topic: str, partition: int) -> bytes | None:
        if topic == self._topics.metrics:
            part = self._metrics.get(partition)
            if part is None:
                return None
            state: dict[str, Any] = {
                "version": CHECKPOINT_VERSION, "kind": "metrics",
                "semantics": part.semantics, "alerter": part.alerter.export_state(),
                "entity": part.entity, "event_now": part.event_now,
                "deviations": part.deviations}
        else:
            logs = self._logs.get(partition)
            if logs is None:
                return None
            state = {"version": CHECKPOINT_VERSION, "kind": "logs", "alerter": logs,
                     "deviations": self._log_deviations.get(partition)}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def _restore(self, topic: str, partition: int, blob: bytes) -> None:
        state = pickle.loads(blob)  # our own checkpoint, from our own store
        if state.get("version") != CHECKPOINT_VERSION:
            raise DecodeError(f"checkpoint version {state.get('version')}")
        if topic == self._topics.metrics:
            alerter = self._new_metric_alerter()
            alerter.import_state(state["alerter"])
            entity = state["entity"] if self._new_entity is not None else None
            if entity is None and self._new_entity is not None:
                entity = self._new_entity()
            tracker = state.get("deviations")
            if self._new_deviations is None:
                tracker = None
            elif tracker is None:
                tracker = self._new_deviations()
            self._metrics[partition] = _MetricPartition(state["semantics"], alerter, entity,
                                                        float(state["event_now"]), tracker)
        else:
            self._logs[partition] = state["alerter"]
            tracker = state.get("deviations")
            if tracker is not None and self._new_log_deviations is not None:
                self._log_deviations[partition] = tracker
