"""Routing rules: which destinations hear about which incidents.

A rule matches on the incident's severity (at least ``min_severity``), its services, the
``team`` label of its alerts and its status; every matching rule adds its destinations, in
rule order, without repeats. With no rules, nothing is routed (the act stage then falls back
to the log notifier).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiops.model import SEVERITY_RANK, Incident, IncidentStatus

#: every status people are told about; a pending incident has not been raised yet
ALL_STATUSES = frozenset(IncidentStatus) - {IncidentStatus.PENDING}


@dataclass(frozen=True, slots=True)
class Route:
    """One rule. Empty ``services``/``teams`` mean any.

    >>> from aiops.model import Incident, IncidentStatus
    >>> inc = Incident(id="i", status=IncidentStatus.OPEN, title="t", severity="warning",
    ...                opened_at=0, updated_at=0, alerts=(), services=("cart",))
    >>> Route(("slack",), min_severity="warning", services=frozenset({"cart"})).matches(inc)
    True
    >>> Route(("pagerduty",), min_severity="critical").matches(inc)
    False
    """

    destinations: tuple[str, ...]
    min_severity: str = "info"
    services: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    statuses: frozenset[IncidentStatus] = field(default=ALL_STATUSES)

    def matches(self, incident: Incident) -> bool:
        if incident.status not in self.statuses:
            return False
        if SEVERITY_RANK.get(incident.severity, 1) < SEVERITY_RANK.get(self.min_severity, 1):
            return False
        if self.services and not self.services.intersection(incident.services):
            return False
        if self.teams:
            teams = {a.labels.get("team", "") for a in incident.alerts}
            if not self.teams.intersection(teams):
                return False
        return True


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes: Sequence[Route] = tuple(routes)

    def destinations(self, incident: Incident) -> list[str]:
        if not incident.raised:
            return []  # pending, or dropped as transient: nobody is told
        found: list[str] = []
        for route in self._routes:
            if route.matches(incident):
                found.extend(d for d in route.destinations if d not in found)
        return found
