"""The notifier the act stage uses: incident changes become outbox rows, then get sent.

``add`` renders one message per routed destination for the incident's current state, keyed
``"<incident id>:<status>"``; ``flush`` writes them in one transaction (insert-or-ignore, so a
redelivered incident adds nothing) and then drains the outbox. The act stage commits its
Kafka offsets only after ``flush`` returns, so an incident change is in the outbox before its
input is acknowledged: a crash before that redelivers the incident, a crash after it leaves
the rows for the next drain.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiops.model import Incident
from aiops.notify.dispatcher import PREFIX, Destination, DrainReport, OutboxDispatcher
from aiops.notify.routing import Router
from aiops.storage.repository import OutboxMessage, Store


def notification_key(incident: Incident) -> str:
    return f"{incident.id}:{incident.status.value}"


class OutboxNotifier:
    """Sink shape (``add`` then ``flush``) over the transactional outbox."""

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
        self._buffer: list[OutboxMessage] = []
        self.last_report = DrainReport()

    def messages(self, incident: Incident) -> list[OutboxMessage]:
        """The outbox rows announcing the incident's current state, one per routed
        destination. A writer of incidents can store them in its own transaction
        (``Store.save_incident(incident, [..., *notifier.messages(incident)])``); the act
        stage enqueueing them again is then a no-op."""
        key = notification_key(incident)
        return [
            OutboxMessage(f"{PREFIX}{name}", key, self._destinations[name].render(incident, key))
            for name in self._router.destinations(incident)
            if name in self._destinations
        ]

    def add(self, incident: Incident) -> None:
        self._buffer.extend(self.messages(incident))

    def flush(self) -> None:
        buffered, self._buffer = self._buffer, []
        if buffered:
            self._store.enqueue(buffered)
        self.poll()

    def poll(self) -> None:
        """Send what is due (retries, rate-limited rows); the act stage calls it when idle."""
        self.last_report = self._dispatcher.drain()
