"""Act stage: incidents in; notifications out; remediation decisions stored and published.

Notifications go through the notifier's sink shape (``add`` per incident change, ``flush``
per batch); the outbox notifier makes them durable before ``flush`` returns, so the input
offset is committed only after the notification is safe. Remediation decisions are stored
(``remediation_actions``) and published on the actions topic; ``idle`` lets both retry and
time out (due notifications, approved actions, verification windows).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aiops.model import DecodeError, Incident, RemediationAction
from aiops.storage.repository import Store
from streams.codecs import decode_incident, encode_action
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics


class NotifierLike(Protocol):
    """The sink shape: ``add`` every incident change, then ``flush`` once per batch;
    ``poll`` sends what became due since (retries, rate-limited messages)."""

    def add(self, incident: Incident) -> None: ...

    def flush(self) -> None: ...

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
    ) -> None:
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
            self._notifier.add(incident)
            fresh.append(incident)
        # People hear first: an action may take seconds (a restart waits for the process).
        self._notifier.flush()
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
