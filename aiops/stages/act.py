"""Act stage: incidents in; notifications out; remediation decisions stored and published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aiops.model import DecodeError, Incident, RemediationAction
from aiops.storage.repository import Store
from streams.codecs import decode_incident, encode_action
from streams.producer import Record
from streams.stage import DeadLetter, Incoming, StageResult
from streams.topics import Topics


class NotifierLike(Protocol):
    """The sink shape: ``add`` every incident change, then ``flush`` once per batch."""

    def add(self, incident: Incident) -> None: ...

    def flush(self) -> None: ...


class RemediatorLike(Protocol):
    def handle(self, incident: Incident) -> list[RemediationAction]: ...


class ActStage:
    name = "act"

    def __init__(
        self,
        topics: Topics,
        notifier: NotifierLike,
        remediator: RemediatorLike,
        store: Store,
    ) -> None:
        self._topics = topics
        self._notifier = notifier
        self._remediator = remediator
        self._store = store
        self._seen: dict[str, int] = {}

    def topics(self) -> list[str]:
        return [self._topics.incidents]

    def start(self) -> list[Record]:
        return []

    def handle(self, batch: Sequence[Incoming]) -> StageResult:
        dead: list[DeadLetter] = []
        outputs: list[Record] = []
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
            for action in self._remediator.handle(incident):
                self._store.save_action(action)
                outputs.append(
                    Record(self._topics.actions, incident.id.encode(), encode_action(action))
                )
        self._notifier.flush()
        return StageResult(outputs=outputs, dead=dead)

    def published(self) -> None:
        pass

    def idle(self, wall_now: float) -> list[Record]:
        return []
