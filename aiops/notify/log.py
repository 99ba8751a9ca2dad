"""A notifier that writes one structured log line per incident change."""

from __future__ import annotations

import logging

from aiops.model import Incident


class LogNotifier:
    """Sink shape (``add`` then ``flush``): lines are buffered and written on flush."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("aiops.incidents")
        self._buffer: list[Incident] = []
        self.sent: int = 0

    def add(self, incident: Incident) -> None:
        self._buffer.append(incident)

    def flush(self) -> None:
        buffered, self._buffer = self._buffer, []
        for incident in buffered:
            cause = incident.root_causes[0].service if incident.root_causes else "unknown"
            self._log.warning(
                "incident %s v%d %s [%s] %s; root cause: %s; services: %s",
                incident.id, incident.version, incident.status.value, incident.severity,
                incident.title, cause, ", ".join(incident.services),
            )
            self.sent += 1

    def poll(self) -> None:
        """Nothing is ever pending: lines are written on :meth:`flush`."""
