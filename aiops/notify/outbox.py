"""Notifications through the transactional outbox: decided once, delivered elsewhere.

The correlate stage, which decides every incident change, asks :meth:`OutboxNotifier.messages`
for the rows announcing a change (one per routed destination, rendered once) and stores them
in the transaction that stores the change. The act stage only calls :meth:`poll`, which
drains the outbox to the destinations (retries, rate limits, in-doubt reconciliation).

Keys name a change, not a state: ``"<incident id>:<status>:<reopens>"``, so a reopened
incident and its second resolve are new keys, while a redelivered change repeats its key and
the outbox ignores it; destinations use the key as their idempotency key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiops.model import Incident
from aiops.notify.dispatcher import PREFIX, Destination, DrainReport, OutboxDispatcher
from aiops.notify.routing import Router
from aiops.storage.repository import OutboxMessage, Store


def notification_key(incident: Incident) -> str:
    """The key of the incident's current status episode.

    >>> from aiops.model import Incident, IncidentStatus
    >>> notification_key(Incident(id="i", status=IncidentStatus.OPEN, title="t",
    ...                           severity="warning", opened_at=0, updated_at=0, alerts=(),
    ...                           services=()))
    'i:open:0'
    """
    reopens = sum(1 for entry in incident.timeline if entry.event == "reopened")
    return f"{incident.id}:{incident.status.value}:{reopens}"


class OutboxNotifier:
    """Renders notification rows (for the stage deciding changes) and drains the outbox
    (for the stage delivering them)."""

    def __init__(
        self,
        store: Store,
        router: Router,
        destinations: Mapping[str, Destination],
        dispatcher: OutboxDispatcher,
    ) -> None:
        self._store = store
        self._router = router
        self._destinations = dict(destinations)
        self._dispatcher = dispatcher
        self.last_report = DrainReport()

    def messages(self, incident: Incident, key: str | None = None) -> list[OutboxMessage]:
        """The outbox rows announcing a change of the incident under ``key`` (default: its
        current status episode), one per routed destination, for the writer of incidents to
        store in its own transaction (``Store.save_incident(incident, [..., *rows])``)."""
        key = key or notification_key(incident)
        return [
            OutboxMessage(f"{PREFIX}{name}", key, self._destinations[name].render(incident, key))
            for name in self._router.destinations(incident)
            if name in self._destinations
        ]

    def poll(self) -> None:
        """Send what is due (new rows, retries, rate-limited rows): the act stage's only
        notification work, after each batch and when idle."""
        self.last_report = self._dispatcher.drain()
