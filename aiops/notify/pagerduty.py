"""PagerDuty Events API v2: trigger, acknowledge and resolve with ``dedup_key`` = incident id.

PagerDuty deduplicates by ``dedup_key``: a second ``trigger`` for an open alert only adds to
its log, and ``acknowledge``/``resolve`` are idempotent, so an in-doubt delivery is simply
sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from aiops.model import Incident, IncidentStatus
from aiops.notify.http import post
from aiops.notify.links import Links
from aiops.notify.slack import clip
from aiops.wire.timefmt import format_time

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_SUMMARY = 1024
SEVERITIES = ("critical", "error", "warning", "info")
_ACTION = {
    IncidentStatus.OPEN: "trigger",
    IncidentStatus.ACKNOWLEDGED: "acknowledge",
    IncidentStatus.RESOLVED: "resolve",
}


def pagerduty_severity(severity: str) -> str:
    """Map an incident severity onto PagerDuty's four.

    >>> [pagerduty_severity(s) for s in ("critical", "page", "warning", "info", "none")]
    ['critical', 'error', 'warning', 'info', 'info']
    """
    s = severity.lower()
    if s in SEVERITIES:
        return s
    if s in ("page", "high", "major", "fatal"):
        return "error"
    if s in ("none", "low", "minor", "debug"):
        return "info"
    return "warning"


def pagerduty_event(
    incident: Incident, routing_key: str, links: Mapping[str, str]
) -> dict[str, Any]:
    """The Events API v2 body for the incident's current state.

    >>> from aiops.model import Incident, IncidentStatus
    >>> inc = Incident(id="inc-1", status=IncidentStatus.RESOLVED, title="t", severity="critical",
    ...                opened_at=0.0, updated_at=0.0, alerts=(), services=("cart",))
    >>> sorted(pagerduty_event(inc, "R" * 32, {}).items())[:2]
    [('dedup_key', 'inc-1'), ('event_action', 'resolve')]
    """
    action = _ACTION[incident.status]
    event: dict[str, Any] = {
        "routing_key": routing_key, "event_action": action, "dedup_key": incident.id,
    }
    if action != "trigger":
        return event
    cause = incident.root_causes[0].service if incident.root_causes else ""
    event["payload"] = {
        "summary": clip(f"[{incident.severity.upper()}] {incident.title}", MAX_SUMMARY),
        "source": cause or (incident.services[0] if incident.services else "aiops"),
        "severity": pagerduty_severity(incident.severity),
        "timestamp": format_time(incident.opened_at),
        "component": cause or None,
        "group": ",".join(incident.services) or None,
        "class": ",".join(sorted({a.name for a in incident.alerts})) or None,
        "custom_details": {
            "incident_id": incident.id,
            "version": incident.version,
            "services": list(incident.services),
            "root_causes": [
                {"service": c.service, "score": round(c.score, 4), "evidence": list(c.evidence)}
                for c in incident.root_causes
            ],
        },
    }
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    event["client"] = "aiops"
    if "incident" in links:
        event["client_url"] = links["incident"]
    event["links"] = [
        {"href": href, "text": name.capitalize()} for name, href in links.items()
    ]
    return event


class PagerDutyEvents:
    """One PagerDuty service integration (routing key) as an outbox destination."""

    idempotent = True

    def __init__(
        self, name: str, routing_key: str, client: httpx.Client | None, links: Links,
        *, url: str = EVENTS_URL,
    ) -> None:
        self.name = name
        self._routing_key = routing_key
        self._client = client
        self._links = links
        self._url = url

    def render(self, incident: Incident, key: str) -> bytes:
        return orjson.dumps(
            pagerduty_event(incident, self._routing_key, self._links.for_incident(incident))
        )

    def deliver(self, payload: bytes, key: str, now: float) -> None:
        post(self._client, self.name, self._url, payload,
             {"content-type": "application/json"}, now)

    def delivered(self, key: str, since: float) -> bool | None:
        return None
