"""Which incident changes people hear about, and which versions of a batch are kept.

Notifications are decided once per state change: an incident's first raise, every status
change (a reopen and a second resolve included) and an escalation of its severity each get
one row per routed destination, keyed ``<id>:<status>:<reopens>`` (with ``:<severity>`` for
an escalation), so a redelivered change repeats no key.

>>> from aiops.model import Alert, Incident, IncidentStatus
>>> warn = Alert({"alertname": "A", "severity": "warning"}, {}, starts_at=0)
>>> inc = Incident(id="i1", status=IncidentStatus.OPEN, title="t", severity="warning",
...                opened_at=0, updated_at=0, alerts=(warn,), services=("x",))
>>> n = Notices()
>>> n.keys(inc), n.keys(inc)
(['i1:open:0'], [])
"""

from __future__ import annotations

from collections.abc import Iterable

from aiops.model import SEVERITY_RANK, Incident, IncidentStatus

#: what people were last told about an incident: status, reopen count, severity rank
_Told = tuple[IncidentStatus, int, int]


class Notices:
    """What people were last told about each incident, and the keys of what is new."""

    def __init__(self) -> None:
        self._told: dict[str, _Told] = {}

    def reset(self, held: Iterable[Incident]) -> None:
        """Start from the incidents reloaded from the store (those raised were told)."""
        self._told = {i.id: _told(i) for i in held if i.raised}

    def add(self, held: Iterable[Incident]) -> None:
        """Incidents reloaded from the store later (an alert delivered again after a restart)."""
        self._told.update((i.id, _told(i)) for i in held if i.raised and i.id not in self._told)

    def clear(self) -> None:
        self._told.clear()

    def keys(self, incident: Incident) -> list[str]:
        """The keys of the changes people must hear about in this version: none when it
        changes nothing they were told (a member joined, a rank moved).

        An escalation is judged against the severity the incident opened with (its earliest
        alert's), not against the previous stored version, so that where consumer batches
        happen to end does not decide whether people hear of it: an incident that opened
        with a warning and took a critical alert in the same batch is announced and escalated
        at once, as it is when the two arrive apart.
        """
        status, reopens, rank = _told(incident)
        before = self._told.get(incident.id)
        base = f"{incident.id}:{status.value}:{reopens}"
        keys: list[str] = []
        if before is None or before[:2] != (status, reopens):
            keys.append(base)
            floor = _opening_rank(incident) if before is None else rank
        else:
            floor = before[2]
        if status in _ACTIVE and rank > floor:
            keys.append(f"{base}:{incident.severity}")
            floor = rank
        self._told[incident.id] = (status, reopens, floor)
        return keys


_ACTIVE = (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED)


def _opening_rank(incident: Incident) -> int:
    """Severity rank of the alert the incident began with (its earliest member)."""
    if not incident.alerts:
        return SEVERITY_RANK.get(incident.severity, 1)
    first = min(incident.alerts, key=lambda a: (a.starts_at, a.fingerprint))
    return SEVERITY_RANK.get(first.severity, 1)


def _told(incident: Incident) -> _Told:
    reopens = sum(1 for entry in incident.timeline if entry.event == "reopened")
    return incident.status, reopens, SEVERITY_RANK.get(incident.severity, 1)


class BatchChanges:
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
