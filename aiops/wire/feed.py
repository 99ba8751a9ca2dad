"""The incident feed's bounded document: one message per change that always fits the broker.

An incident of a storm can hold ten thousand alerts; listing them all made its feed message
pass the broker's limit (1 MB by default) at about 2,500 alerts, and the producer refused it.
The feed message therefore lists at most ``member_cap`` member alerts (firing ones first), the
newest timeline entries and the first services, and says in ``omitted`` how many of each it
left out, with the incident's member counts in ``counts``. The whole incident stays in the
store and ``GET /api/v1/incidents/{id}`` serves it. If the document still does not fit (huge
annotations), the caps are halved until it does, down to a head with counts only.
"""

from __future__ import annotations

from typing import Any

from aiops.model import Incident
from aiops.wire.shapes import alert_to_dict, dumps, incident_to_dict

#: member alerts listed in a feed message; the rest are counted
MEMBER_CAP = 100
_TIMELINE_CAP = 50
_SERVICES_CAP = 100
_EVIDENCE_CAP = 20


def feed_document(incident: Incident, *, member_cap: int = MEMBER_CAP) -> dict[str, Any]:
    """The incident as a feed message, members summarised beyond ``member_cap``.

    >>> from aiops.model import Alert, Incident, IncidentStatus
    >>> alerts = tuple(Alert({"alertname": f"A{i}", "service": "cart"}, {}, starts_at=1.0)
    ...                for i in range(250))
    >>> inc = Incident(id="i", status=IncidentStatus.OPEN, title="t", severity="warning",
    ...                opened_at=1.0, updated_at=1.0, alerts=alerts, services=("cart",))
    >>> doc = feed_document(inc)
    >>> len(doc["alerts"]), doc["counts"], doc["omitted"]["alerts"]
    (100, {'alerts': 250, 'firing': 250, 'changes': 0}, 150)
    """
    doc = _head(incident)
    firing = [a for a in incident.alerts if a.firing]
    kept = firing[:member_cap]
    if len(kept) < member_cap:
        kept.extend([a for a in incident.alerts if not a.firing][:member_cap - len(kept)])
    doc["alerts"] = [alert_to_dict(a) for a in kept]
    doc["changes"] = [alert_to_dict(a) for a in incident.changes[:member_cap]]
    if len(incident.services) > _SERVICES_CAP:
        doc["services"] = list(incident.services[:_SERVICES_CAP])
    if len(incident.timeline) > _TIMELINE_CAP:
        doc["timeline"] = doc["timeline"][-_TIMELINE_CAP:]
    for cause in doc["root_causes"]:
        cause["evidence"] = cause["evidence"][:_EVIDENCE_CAP]
    doc["counts"] = {"alerts": len(incident.alerts), "firing": len(firing),
                     "changes": len(incident.changes)}
    omitted = {
        "alerts": len(incident.alerts) - len(doc["alerts"]),
        "changes": len(incident.changes) - len(doc["changes"]),
        "services": len(incident.services) - len(doc["services"]),
        "timeline": len(incident.timeline) - len(doc["timeline"]),
        "evidence": sum(len(rc.evidence) for rc in incident.root_causes)
        - sum(len(c["evidence"]) for c in doc["root_causes"]),
    }
    if any(omitted.values()):
        doc["omitted"] = omitted
    return doc


def encode_feed(incident: Incident, max_bytes: int, *, member_cap: int = MEMBER_CAP) -> bytes:
    """The feed message, at most ``max_bytes`` long (caps halved until it fits).

    >>> from aiops.model import Alert, Incident, IncidentStatus
    >>> big = {"description": "x" * 60_000}
    >>> alerts = tuple(Alert({"alertname": f"A{i}"}, big, starts_at=1.0) for i in range(40))
    >>> inc = Incident(id="i", status=IncidentStatus.OPEN, title="t", severity="warning",
    ...                opened_at=1.0, updated_at=1.0, alerts=alerts, services=())
    >>> len(encode_feed(inc, 1_000_000)) <= 1_000_000
    True
    """
    cap = member_cap
    while True:
        value = dumps(feed_document(incident, member_cap=cap))
        if len(value) <= max_bytes or cap == 0:
            break
        cap //= 2
    if len(value) > max_bytes:
        value = dumps(_minimal(incident))
    return value


def _head(incident: Incident) -> dict[str, Any]:
    """``incident_to_dict`` without serialising every member (they are replaced anyway)."""
    lean = Incident(
        id=incident.id, version=incident.version, status=incident.status,
        title=incident.title, severity=incident.severity, opened_at=incident.opened_at,
        updated_at=incident.updated_at, resolved_at=incident.resolved_at,
        services=incident.services, root_causes=incident.root_causes,
        alerts=(), changes=(), timeline=incident.timeline,
    )
    doc = incident_to_dict(lean)
    doc["alerts"] = []
    doc["changes"] = []
    return doc


def _minimal(incident: Incident) -> dict[str, Any]:
    doc = _head(incident)
    doc["title"] = doc["title"][:1000]
    doc["services"] = doc["services"][:10]
    doc["timeline"] = doc["timeline"][-1:]
    for entry in doc["timeline"]:
        entry["note"] = entry["note"][:1000]
    doc["root_causes"] = [dict(rc, evidence=[]) for rc in doc["root_causes"][:3]]
    doc["counts"] = {"alerts": len(incident.alerts),
                     "firing": sum(1 for a in incident.alerts if a.firing),
                     "changes": len(incident.changes)}
    doc["omitted"] = {"alerts": len(incident.alerts), "changes": len(incident.changes),
                      "services": max(0, len(incident.services) - 10),
                      "timeline": max(0, len(incident.timeline) - 1),
                      "evidence": sum(len(rc.evidence) for rc in incident.root_causes)}
    return doc
