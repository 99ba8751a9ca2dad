"""Act stage: incidents in; notifications delivered; remediation decisions stored and published.

Notifications are decided and stored by the correlate stage, in the transaction that stores
the incident change they announce (rendered once, keyed per change); this stage only
delivers what the outbox holds (``poll`` after each batch and when idle), so it never renders
a message again nor decides anew whether one is due. Without any destination configured, the
incident changes are written to the log instead (``incident_log``). Remediation decisions are
stored (``remediation_actions``) and published on the actions topic; ``idle`` lets both retry
and time out (due notifications, approved actions, verification windows).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aiops.model import DecodeError, Incident, RemediationAction
from aiops.storage.repository import Store
from aiops.wire.shapes import decode_incident, encode_action
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics


class NotifierLike(Protocol):
    """Delivery only: ``poll`` sends what the outbox holds that is due (new rows, retries,
    rate-limited messages)."""

    def poll(self) -> None: ...


class RemediatorLike(Protocol):
    def handle(self, incident: Incident) -> list[RemediationAction]: ...

    def tick(self, now: float) -> list[RemediationAction]: ...


class ActStage:
    name = "act"

    def __init__(
        self,
        topics: Topics,
        notifier: NotifierLike,
        remediator: RemediatorLike,
        store: Store,
        *,
        wall_clock: Callable[[], float] = time.time,
        outbox_retention_s: float = 14 * 86400.0,
        incident_log: Callable[[Incident], None] | None = None,
    ) -> None:
        self._incident_log = incident_log
        self._outbox_retention_s = outbox_retention_s
        self._last_purge = 0.0
        self._topics = topics
        self._notifier = notifier
        self._remediator = remediator
        self._store = store
        self._wall_clock = wall_clock
        self._seen: dict[str, int] = {}

    def topics(self) -> list[str]:
        return [self._topics.incidents]

    def start(self) -> list[Record]:
        self._notifier.poll()  # what a previous run left in the outbox
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        dead: list[DeadLetter] = []
        fresh: list[Incident] = []
        for message in batch:
            try:
                incident = decode_incident(message.value)
            except DecodeError as exc:
                dead.append(DeadLetter(message, exc.reason))
                continue
            if self._seen.get(incident.id, 0) >= incident.version:
                continue  # a redelivered or out-of-date version
            self._seen[incident.id] = incident.version
            if self._incident_log is not None:
                self._incident_log(incident)
            fresh.append(incident)
        # People hear first: an action may take seconds (a restart waits for the process).
        self._notifier.poll()
        actions: list[RemediationAction] = []
        for incident in fresh:
            actions.extend(self._remediator.handle(incident))
        return StageResult(outputs=self._record(actions), dead=dead)

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        self._notifier.poll()
        if wall_now - self._last_purge >= 3600.0:
            # Sent rows are kept longer than any input can be redelivered (topic retention),
            # so a purged key cannot be enqueued and sent again.
            self._last_purge = wall_now
            self._store.purge_sent(wall_now - self._outbox_retention_s)
        return self._record(self._remediator.tick(wall_now))

    def _record(self, actions: Sequence[RemediationAction]) -> list[Record]:
        outputs = []
        for action in actions:
            self._store.save_action(action)
            outputs.append(
                Record(self._topics.actions, action.incident_id.encode(), encode_action(action))
            )
        return outputs
