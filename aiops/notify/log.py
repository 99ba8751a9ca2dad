"""A notifier that writes one structured log line per incident change."""

from __future__ import annotations

import logging

from aiops.model import Incident


class LogNotifier:
    """Without destinations, the act stage logs each incident change (``log``); there is
    never anything to deliver (``poll``)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("aiops.incidents")
        self.sent: int = 0

    def log(self, incident: Incident) -> None:
        cause = incident.root_causes[0].service if incident.root_causes else "unknown"
        self._log.warning(
            "incident %s v%d %s [%s] %s; root cause: %s; services: %s",
            incident.id, incident.version, incident.status.value, incident.severity,
            incident.title[:500], cause, ", ".join(incident.services[:20]),
        )
        self.sent += 1

    def poll(self) -> None:
        """Nothing is ever pending: lines are written as incidents arrive."""
