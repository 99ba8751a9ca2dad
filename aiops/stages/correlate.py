"""Correlate stage: alerts (and people's commands) in, incidents stored and published.

The incident, its outbox row for the feed and its notification rows (one per routed
destination and incident state) are written in one transaction; the outbox is drained to the
incidents topic and marked sent only after the broker acknowledged it. After a crash the
stage reloads the open incidents (and those resolved recently enough to reopen) and
republishes what the outbox still holds, so an incident change is neither lost nor (beyond
at-least-once redelivery of the same version) repeated.

Alerts are folded in per consumer batch (``process_batch``), so an incident that many alerts
of one batch touch gets one new version rather than one per alert. Silences made through the
API arrive on the alerts topic, ordered with the alerts, and are loaded from the store on
start.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from aiops.logsetup import incident_event
from aiops.model import AiopsError, Alert, DecodeError, Incident, IncidentCommand
from aiops.model.deviation import Deviation, decode_deviations
from aiops.silences import decode_silence_message
from aiops.storage.repository import OutboxMessage, Store
from correlator.config import Silence
from streams.codecs import decode_alert_or_command, encode_incident, loads
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics

log = logging.getLogger(__name__)

INCIDENT_FEED = "topic:incidents"


class CorrelatorLike(Protocol):
    def restore(self, incidents: Iterable[Incident]) -> None: ...

    def process(self, alert: Alert) -> list[Incident]: ...

    def process_batch(self, alerts: Iterable[Alert]) -> list[Incident]: ...

    def add_silence(self, silence: Silence) -> None: ...

    def remove_silence(self, silence_id: str) -> bool: ...

    def apply(self, command: IncidentCommand) -> list[Incident]: ...

    def tick(self, now: float) -> list[Incident]: ...


class CorrelateStage:
    name = "correlate"
    tick_resolution = 1.0  # seconds of event time between timer runs

    def __init__(
        self,
        topics: Topics,
        correlator: CorrelatorLike,
        store: Store,
        *,
        wall_clock: Callable[[], float] = time.time,
        topology: Callable[[Mapping[str, Any]], int] | None = None,
        topology_history: Callable[[], list[bytes]] | None = None,
        notifications: Callable[[Incident], list[OutboxMessage]] | None = None,
        silences: Callable[[float | None], Iterable[Silence]] | None = None,
        reopen_window: float = 0.0,
        deviations: Callable[[list[Deviation]], None] | None = None,
    ) -> None:
        """``silences(after)`` gives the silences to put in force on start (those ending
        after event time ``after``; ``None``: all); ``reopen_window`` is how long after its
        resolution the correlator may reopen an incident, so how far back (in event time)
        resolved incidents are reloaded on start."""
        self._notifications = notifications
        self._observe = deviations  # correlator.observe: deviation summaries, no output
        self._silences = silences
        self._reopen_window = reopen_window
        self._topics = topics
        self._topology = topology
        self._topology_history = topology_history
        self._correlator = correlator
        self._store = store
        self._wall_clock = wall_clock
        self._inflight: list[int] = []
        # Event-time clock: the newest event seen, advanced by wall time while idle so
        # quiet-period timers fire in live operation and stay deterministic in replays.
        self._event_now: float | None = None
        self._wall_at_event = 0.0
        self._last_tick: float | None = None

    def topics(self) -> list[str]:
        extra = [self._topics.deviations] if self._observe is not None else []
        if self._topology is None:
            return [self._topics.alerts, *extra]
        return [self._topics.alerts, self._topics.topology, *extra]

    def start(self) -> list[Record]:
        if self._topology is not None and self._topology_history is not None:
            # Runtime updates live on the topology topic: replay them over the file's graph.
            for value in self._topology_history():
                with contextlib.suppress(AiopsError):
                    self._apply_topology(value)
        if self._silences is not None:
            for silence in self._silences(self._store.latest_update()):
                self._correlator.add_silence(silence)
        # Resolved ones first, the oldest resolution first, then the open ones: an alert held
        # by several of them stays with the one it joined last. An incident merged into
        # another cannot reopen and is left out.
        resolved = [i for i in self._store.recently_resolved(self._reopen_window)
                    if not (i.timeline and i.timeline[-1].event == "merged_into")]
        self._correlator.restore([*resolved, *self._store.open_incidents()])
        return self._pending()

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        dead: list[DeadLetter] = []
        changed = _Changes()
        alerts: list[Alert] = []
        # Alerts folded in together: up to the next command, silence, topology update or timer.
        run: list[tuple[Incoming, Alert]] = []

        def fold() -> None:
            if not run:
                return
            try:
                changed.extend(self._correlator.process_batch([alert for _, alert in run]))
            except AiopsError:
                # Find the culprit one alert at a time (those folded before it are
                # duplicates now; their incidents go out with their next change).
                for message, alert in run:
                    try:
                        changed.extend(self._correlator.process(alert))
                    except AiopsError as exc:
                        dead.append(DeadLetter(message, str(exc)))
            run.clear()

        for message in batch:
            if message.topic == self._topics.deviations and self._observe is not None:
                try:
                    self._observe(decode_deviations(message.value))
                except DecodeError as exc:
                    dead.append(DeadLetter(message, exc.reason))
                continue
            if message.topic == self._topics.topology and self._topology is not None:
                fold()
                try:
                    self._apply_topology(message.value)
                except AiopsError as exc:
                    dead.append(DeadLetter(message, str(exc)))
                continue
            try:
                item = decode_alert_or_command(message.value)
            except DecodeError as exc:
                try:
                    applied = self._apply_silence(message.value, fold)
                except DecodeError as silence_exc:
                    dead.append(DeadLetter(message, silence_exc.reason))
                    continue
                if not applied:
                    dead.append(DeadLetter(message, exc.reason))
                continue
            if isinstance(item, Alert):
                alerts.append(item)
                due = self._advance(max(item.starts_at, item.ends_at or 0.0))
                if due is not None:
                    fold()
                    changed.extend(self._correlator.tick(due))
                run.append((message, item))
                continue
            fold()
            try:
                changed.extend(self._correlator.apply(item))
            except AiopsError as exc:
                dead.append(DeadLetter(message, str(exc)))
        fold()
        if alerts:
            self._store.upsert_alerts(alerts)
        self._save(changed.versions())
        return StageResult(outputs=self._pending(), dead=dead)

    def published(self) -> None:
        if self._inflight:
            self._store.mark_sent(self._inflight, self._wall_clock())
            self._inflight = []

    def idle(self, wall_now: float) -> list[Record]:
        if self._event_now is None:
            return []
        now = self._event_now + max(0.0, wall_now - self._wall_at_event)
        self._save(self._correlator.tick(now))
        return self._pending()

    # ------------------------------------------------------------------ helpers

    def _apply_topology(self, value: bytes) -> int:
        update = loads(value)
        if not isinstance(update, Mapping):
            raise DecodeError("a topology update must be a JSON object with an 'op'")
        assert self._topology is not None
        try:
            return self._topology(update)
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed topology update: {exc!r}") from exc

    def _apply_silence(self, value: bytes, fold: Callable[[], None]) -> bool:
        """Put a silence from the API in force, or drop an expired one; False when ``value``
        is no silence message. Alerts before it in the batch are folded in first, so it
        applies from its place in the stream on."""
        update = decode_silence_message(value)
        if update is None:
            return False
        fold()
        ident, silence = update
        if silence is None:
            self._correlator.remove_silence(ident)
        else:
            self._correlator.add_silence(silence)
        return True

    def _advance(self, ts: float) -> float | None:
        """Move the event clock; the time to run timers at, once per second of event time
        it crosses, or None.

        Timers run at the same points of the event stream whatever the batch boundaries,
        so a replay and a live run that was batched differently give the same incidents.
        """
        if self._event_now is not None and ts <= self._event_now:
            return None
        self._event_now = ts
        self._wall_at_event = self._wall_clock()
        if self._last_tick is not None and ts < self._last_tick + self.tick_resolution:
            return None
        self._last_tick = ts
        return ts

    def _save(self, incidents: Iterable[Incident]) -> None:
        for incident in incidents:
            if not incident.raised:
                # pending, or dropped as transient before anyone was told: kept in the
                # store (a restart picks a pending one up again), never on the feed
                self._store.save_incident(incident)
                continue
            message = OutboxMessage(
                destination=INCIDENT_FEED,
                dedup_key=f"{incident.id}:{incident.version}",
                payload=encode_incident(incident),
            )
            rows = [message]
            if self._notifications is not None:
                rows.extend(self._notifications(incident))
            self._store.save_incident(incident, rows)
            log.info("incident %s v%d %s", incident.id, incident.version,
                     incident.status.value, extra=incident_event(incident))

    def _pending(self) -> list[Record]:
        rows = self._store.pending(INCIDENT_FEED, limit=10_000)
        self._inflight = [row.id for row in rows]
        return [
            Record(self._topics.incidents, row.dedup_key.rsplit(":", 1)[0].encode(), row.payload)
            for row in rows
        ]


class _Changes:
    """The incident versions of one batch worth storing and publishing.

    Status changes made by people's commands and by timers each get their own version on
    the feed (open -> acknowledged -> resolved is never collapsed); changes that keep the
    status coalesce into the batch's latest version of that incident. Within one run of
    alerts folded in together the correlator already gives one version per incident.
    """

    def __init__(self) -> None:
        self._by_id: dict[str, list[Incident]] = {}

    def extend(self, incidents: Iterable[Incident]) -> None:
        for incident in incidents:
            kept = self._by_id.setdefault(incident.id, [])
            if kept and kept[-1].status == incident.status:
                kept[-1] = incident
            else:
                kept.append(incident)

    def versions(self) -> list[Incident]:
        return [incident for kept in self._by_id.values() for incident in kept]
