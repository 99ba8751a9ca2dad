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
start; a silence expired early puts the alerts it held back that still fire through again.

Notifications are decided here, once per state change (which changes people hear about:
:mod:`aiops.stages.incident_notices`); the act stage only delivers them.

The store is the state's truth between owners: when a batch fails the in-memory state is
rolled back to what is stored (``rollback``) before the records are retried one by one, and
when the alerts partition changes hands (``on_assign``/``on_revoke``) the new owner reloads
what the previous one stored, while the old one forgets what it held and runs no timers.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from aiops.logsetup import incident_event
from aiops.model import (
    AiopsError,
    Alert,
    DecodeError,
    Incident,
)
from aiops.model.deviation import Deviation, decode_deviations
from aiops.silences import decode_silence_message
from aiops.stages.incident_notices import BatchChanges, Notices
from aiops.storage.repository import IncidentDelta, OutboxMessage, Store
from aiops.wire.feed import encode_feed
from aiops.wire.shapes import decode_alert_or_command, loads
from correlator.config import Silence
from correlator.types import Correlator
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics

log = logging.getLogger(__name__)

INCIDENT_FEED = "topic:incidents"


class CorrelateStage:
    name = "correlate"
    tick_resolution = 1.0  # seconds of event time between timer runs
    sync_interval = 5.0  # wall seconds between looks at alerts other replicas resolved
    max_future = 86_400.0  # an alert stamped further ahead of the wall clock is refused

    def __init__(
        self,
        topics: Topics,
        correlator: Correlator,
        store: Store,
        *,
        wall_clock: Callable[[], float] = time.time,
        topology: Callable[[Mapping[str, Any]], int] | None = None,
        topology_history: Callable[[], list[bytes]] | None = None,
        notifications: Callable[[Incident, str], list[OutboxMessage]] | None = None,
        silences: Callable[[float | None], Iterable[Silence]] | None = None,
        reopen_window: float = 0.0,
        deviations: Callable[[list[Deviation]], None] | None = None,
        max_message_bytes: int = 1_000_000,
    ) -> None:
        """``silences(after)`` gives the silences to put in force on start (those ending
        after event time ``after``; ``None``: all); ``reopen_window`` is how long after its
        resolution the correlator may reopen an incident, so how far back (in event time)
        resolved incidents are reloaded on start; ``notifications(incident, key)`` gives
        the outbox rows announcing a change under ``key``; feed messages are kept under
        ``max_message_bytes``."""
        self._notifications = notifications
        self._observe = deviations  # correlator.observe: deviation summaries, no output
        self._max_message_bytes = max_message_bytes
        self._notices = Notices()
        self._silences_held: dict[str, Silence] = {}
        self._silences = silences
        self._reopen_window = reopen_window
        self._topics = topics
        self._topology = topology
        self._topology_history = topology_history
        self._correlator = correlator
        track = getattr(correlator, "track_deltas", None)
        if track is not None:
            track()  # every version is stored here: each is written as what it changed
        self._store = store
        self._wall_clock = wall_clock
        self._inflight: list[int] = []
        # Event-time clock: the newest event seen, advanced by wall time while idle so
        # quiet-period timers fire in live operation and stay deterministic in replays.
        self._event_now: float | None = None
        self._wall_at_event = 0.0
        self._last_tick: float | None = None
        self._clock_mark: tuple[float | None, float, float | None] = (None, 0.0, None)
        self._last_sync = 0.0
        # Event time of the newest stored change when the state was last reloaded: alerts
        # up to it may be deliveries again of ones the store already reflects.
        self._reloaded_at: float | None = None
        self._looked_up: set[str] = set()  # fingerprints already looked up since then

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
                self._silences_held[silence.id] = silence
        self._restore()
        return self._pending()

    def _restore(self) -> None:
        # Resolved ones first, the oldest resolution first, then the open ones: an alert held
        # by several of them stays with the one it joined last. An incident merged into
        # another cannot reopen and is left out.
        resolved = [i for i in self._store.recently_resolved(self._reopen_window)
                    if not (i.timeline and i.timeline[-1].event == "merged_into")]
        held = [*resolved, *self._store.open_incidents()]
        self._correlator.restore(held)
        self._notices.reset(held)
        self._reloaded_at = self._store.latest_update()
        self._looked_up.clear()

    def _reload_owner(self, alert: Alert) -> None:
        """Reload the stored incident that holds an alert delivered again after a restart.

        A worker killed between two incident writes of a batch gets the batch again, and
        the store may already hold changes newer than some of its alerts: an incident that
        resolved more than ``reopen_window`` before the newest change is not reloaded on
        start, yet an alert of the batch may be its member. Folded into a correlator that
        does not hold that incident, the alert would open a second incident (or join
        another); with its incident reloaded it is a duplicate, as in an uninterrupted run.
        Only alerts that began before the stored state's newest change are looked up, each
        fingerprint once (an alert that keeps firing is repeated with its old start).
        """
        self._looked_up.add(alert.fingerprint)
        owner = self._store.incident_for_alert(alert.fingerprint)
        if owner is None or (owner.timeline and owner.timeline[-1].event == "merged_into"):
            return
        if not any(a.fingerprint == alert.fingerprint and a.starts_at == alert.starts_at
                   for a in owner.alerts):
            return  # it holds a later episode of the alert, not this one
        self._correlator.restore([owner])
        self._notices.add([owner])

    def rollback(self) -> None:
        """Put the state back to what the store holds, after a :meth:`handle` that raised:
        the runner then retries its records one by one, and none is applied twice."""
        self._event_now, self._wall_at_event, self._last_tick = self._clock_mark
        self._correlator.forget_all()
        self._restore()

    def on_assign(self, partitions: list[tuple[str, int]]) -> None:
        """A partition (maybe one another replica owned) is ours: reload what is stored, and
        let timers run from the newest stored change so quiet incidents still resolve."""
        self._correlator.forget_all()
        self._restore()
        newest = self._store.latest_update()
        if newest is not None and (self._event_now is None or newest > self._event_now):
            self._event_now = newest
            self._wall_at_event = self._wall_clock()

    def on_revoke(self, partitions: list[tuple[str, int]]) -> None:
        """Another member owns the alerts now: forget what we held and stop the timers, so a
        stale copy is never written over the new owner's."""
        self._correlator.forget_all()
        self._notices.clear()
        self._event_now = None
        self._last_tick = None

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        self._clock_mark = (self._event_now, self._wall_at_event, self._last_tick)
        dead: list[DeadLetter] = []
        changed = BatchChanges()
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
                    applied = self._apply_silence(message, fold, run)
                except DecodeError as silence_exc:
                    dead.append(DeadLetter(message, silence_exc.reason))
                    continue
                if not applied:
                    dead.append(DeadLetter(message, exc.reason))
                continue
            if isinstance(item, Alert):
                ts = max(item.starts_at, item.ends_at or 0.0)
                if ts > self._wall_clock() + self.max_future:
                    # it would move the event clock years ahead and end every incident
                    dead.append(DeadLetter(message, f"alert time {ts!r} is more than "
                                           f"{self.max_future:.0f}s in the future"))
                    continue
                alerts.append(item)
                if self._reloaded_at is not None and item.starts_at <= self._reloaded_at \
                        and item.fingerprint not in self._looked_up:
                    self._reload_owner(item)
                due = self._advance(ts)
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
        changed = BatchChanges()
        if wall_now - self._last_sync >= self.sync_interval:
            self._last_sync = wall_now
            changed.extend(self._resolved_elsewhere())
        changed.extend(self._correlator.tick(now))
        self._save(changed.versions())
        return self._pending()

    def _resolved_elsewhere(self) -> list[Incident]:
        """Put through the resolutions of held firing alerts that the store has and this
        stage has not seen: with the alerts topic in several partitions, another replica
        may own the partition an incident's alert resolved on. Without this the incident
        would stay open on both replicas, each waiting for the alert the other saw. With
        one writer (one partition, a replay) the store holds nothing new and this is a no-op.
        """
        firing = {a.fingerprint: a for incident in self._correlator.open_incidents()
                  for a in incident.alerts if a.firing}
        if not firing:
            return []
        resolved = [a for a in self._store.alerts_for(sorted(firing), resolved=True)
                    if a.starts_at == firing[a.fingerprint].starts_at]
        return self._correlator.process_batch(resolved) if resolved else []

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

    def _apply_silence(self, message: Incoming, fold: Callable[[], None],
                       run: list[tuple[Incoming, Alert]]) -> bool:
        """Put a silence from the API in force, or drop an expired one; False when the
        message is no silence message. Alerts before it in the batch are folded in first, so
        it applies from its place in the stream on. A silence expired early puts the alerts
        it matched that still fire (as stored) through the correlator again: they open
        incidents now, not when their source next repeats them."""
        update = decode_silence_message(message.value)
        if update is None:
            return False
        fold()
        ident, silence = update
        if silence is not None:
            self._correlator.add_silence(silence)
            self._silences_held[ident] = silence
            return True
        self._correlator.remove_silence(ident)
        ended = self._silences_held.pop(ident, None)
        if ended is not None:
            at = self._event_now if self._event_now is not None else (
                self._store.latest_update() or 0.0)
            still = [a for a in self._store.firing_alerts(at)
                     if ended.matches(a.labels)]
            run.extend((message, alert) for alert in still)
            fold()
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

    def _delta(self, incident: Incident) -> IncidentDelta | None:
        """What this version changed, when the correlator keeps track (then only that is
        written: a version of a 20,000-alert incident costs what its new members cost)."""
        take = getattr(self._correlator, "take_delta", None)
        delta = take(incident) if take is not None and getattr(
            self._correlator, "deltas", False) else None
        if delta is None:
            return None
        return IncidentDelta(alerts=delta.alerts, removed=delta.removed,
                             timeline=delta.timeline)

    def _save(self, incidents: Iterable[Incident]) -> None:
        for incident in incidents:
            delta = self._delta(incident)
            if not incident.raised:
                # pending, or dropped as transient before anyone was told: kept in the
                # store (a restart picks a pending one up again), never on the feed
                self._store.save_incident(incident, delta=delta)
                continue
            message = OutboxMessage(
                destination=INCIDENT_FEED,
                dedup_key=f"{incident.id}:{incident.version}",
                payload=encode_feed(incident, self._max_message_bytes - 1024),
            )
            rows = [message]
            if self._notifications is not None:
                for key in self._notices.keys(incident):
                    rows.extend(self._notifications(incident, key))
            self._store.save_incident(incident, rows, delta)
            log.info("incident %s v%d %s", incident.id, incident.version,
                     incident.status.value, extra=incident_event(incident))

    def _pending(self) -> list[Record]:
        rows = self._store.pending(INCIDENT_FEED, limit=10_000)
        self._inflight = [row.id for row in rows]
        return [
            Record(self._topics.incidents, row.dedup_key.rsplit(":", 1)[0].encode(), row.payload)
            for row in rows
        ]
