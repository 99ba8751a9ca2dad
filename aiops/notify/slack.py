"""Slack incoming webhooks: a Block Kit incident message within Slack's documented limits.

Incoming webhooks have no idempotency key, so a crash between Slack's answer and the outbox's
``mark_sent`` cannot be told apart from a lost request by the webhook alone. Every message
carries its outbox key in a context block; :class:`SlackHistory` (a bot token with
``channels:history``) looks for that key in the channel to reconcile an in-doubt delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from aiops.model import Incident, IncidentStatus
from aiops.notify.http import post
from aiops.notify.links import Links

# Block Kit limits (api.slack.com/reference/block-kit): a message holds at most 50 blocks; a
# section's text at most 3000 characters and at most 10 fields of 2000; a header's
# plain_text at most 150; a button's text 75 and its url 3000; a context at most 10 elements.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_URL = 3000
MAX_FALLBACK_TEXT = 3000
MAX_CAUSES = 5

_STATUS_LABEL = {
    IncidentStatus.OPEN: ":red_circle: Open",
    IncidentStatus.ACKNOWLEDGED: ":large_yellow_circle: Acknowledged",
    IncidentStatus.RESOLVED: ":white_check_mark: Resolved",
}


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with an ellipsis.

    >>> clip("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}


def _causes(incident: Incident) -> str:
    lines = []
    for rank, cause in enumerate(incident.root_causes[:MAX_CAUSES], start=1):
        line = f"{rank}. *{escape(cause.service)}* (score {cause.score:.2f})"
        if cause.evidence:
            line += ": " + escape("; ".join(cause.evidence))
        lines.append(line)
    return "*Ranked root causes*\n" + ("\n".join(lines) if lines else "_none identified yet_")


def slack_message(incident: Incident, links: Mapping[str, str], key: str) -> dict[str, Any]:
    """The Block Kit message for one incident state; ``key`` is the outbox dedup key.

    >>> from aiops.model import Incident, IncidentStatus, RootCause
    >>> inc = Incident(id="inc-1", status=IncidentStatus.OPEN, title="cart slow",
    ...                severity="critical", opened_at=0.0, updated_at=0.0, alerts=(),
    ...                services=("cart",), root_causes=(RootCause("db", 0.9, ("p99 x4",)),))
    >>> msg = slack_message(inc, {"incident": "http://x/api/v1/incidents/inc-1"}, "inc-1:open")
    >>> msg["blocks"][0]["text"]["text"]
    '[CRITICAL] cart slow'
    >>> msg["text"]
    'Open [CRITICAL] cart slow (services: cart; root cause: db)'
    """
    status = _STATUS_LABEL.get(incident.status, str(incident.status))
    header = f"[{incident.severity.upper()}] {incident.title}"
    services = ", ".join(incident.services) or "unknown"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, MAX_HEADER_TEXT),
                                    "emoji": True}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": clip(f"*Status*\n{status}", MAX_FIELD_TEXT)},
                {"type": "mrkdwn", "text": clip(f"*Severity*\n{escape(incident.severity)}",
                                                MAX_FIELD_TEXT)},
                {"type": "mrkdwn", "text": clip(f"*Services*\n{escape(services)}",
                                                MAX_FIELD_TEXT)},
                {"type": "mrkdwn", "text": clip(f"*Alerts*\n{len(incident.alerts)}",
                                                MAX_FIELD_TEXT)},
            ],
        },
        _section(_causes(incident)),
    ]
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": clip(label, MAX_BUTTON_TEXT)},
         "url": links[name]}
        for name, label in (("incident", "Open incident"), ("dashboard", "Dashboard"),
                            ("runbook", "Runbook"), ("approvals", "Approve remediation"))
        if links.get(name) and len(links[name]) <= MAX_URL
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": clip(f"incident `{escape(incident.id)}` v{incident.version}"
                                        f" · aiops-key `{escape(key)}`", MAX_SECTION_TEXT)},
    ]})
    cause = incident.root_causes[0].service if incident.root_causes else "unknown"
    label = status.split(" ", 1)[-1]
    text = escape(f"{label} {header} (services: {services}; root cause: {cause})")
    return {"text": clip(text, MAX_FALLBACK_TEXT), "blocks": blocks[:MAX_BLOCKS]}


class SlackWebhook:
    """A Slack incoming webhook as an outbox destination."""

    idempotent = False

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.Client | None,
        links: Links,
        *,
        history: SlackHistory | None = None,
    ) -> None:
        self.name = name
        self._url = url
        self._client = client
        self._links = links
        self._history = history

    def render(self, incident: Incident, key: str) -> bytes:
        return orjson.dumps(slack_message(incident, self._links.for_incident(incident), key))

    def deliver(self, payload: bytes, key: str, now: float) -> None:
        post(self._client, self.name, self._url, payload,
             {"content-type": "application/json"}, now)

    def delivered(self, key: str, since: float) -> bool | None:
        """Whether a message with ``key`` is in the channel (None: cannot tell)."""
        return None if self._history is None else self._history.contains(key, since)


class SlackHistory:
    """Reads a channel's recent messages (``conversations.history``) to find an outbox key."""

    def __init__(
        self, client: httpx.Client, token: str, channel: str,
        api_url: str = "https://slack.com/api",
    ) -> None:
        self._client = client
        self._token = token
        self._channel = channel
        self._api = api_url.rstrip("/")

    def contains(self, key: str, since: float) -> bool | None:
        try:
            response = self._client.get(
                f"{self._api}/conversations.history",
                params={"channel": self._channel, "oldest": f"{since:.6f}", "limit": 200},
                headers={"authorization": f"Bearer {self._token}"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            return None
        if response.status_code != 200 or not body.get("ok"):
            return None
        needle = f"aiops-key `{escape(key)}`"
        return any(needle in orjson.dumps(m).decode() for m in body.get("messages", []))
