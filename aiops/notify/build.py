"""Builds the notifier from :class:`~aiops.settings.NotifySettings` (composition root helper)."""

from __future__ import annotations

import httpx

from aiops.model import ConfigError, IncidentStatus
from aiops.notify.dispatcher import Destination, OutboxDispatcher, RetryPolicy
from aiops.notify.links import Links
from aiops.notify.outbox import OutboxNotifier
from aiops.notify.pagerduty import PagerDutyEvents
from aiops.notify.routing import Route, Router
from aiops.notify.slack import SlackHistory, SlackWebhook
from aiops.notify.webhook import SignedWebhook
from aiops.settings import NotifySettings
from aiops.storage.repository import Store


def build_notifier(
    settings: NotifySettings, store: Store, public_url: str, client: httpx.Client | None = None,
    *, deliver: bool = True,
) -> OutboxNotifier | None:
    """The outbox notifier for the configured destinations, or None when there are none.

    ``deliver=False`` builds it for rendering only (the correlate stage decides and stores
    notifications; the act stage delivers them), without an HTTP client."""
    if client is None and deliver:
        client = httpx.Client(timeout=settings.timeout_s)
    links = Links(public_url, settings.runbook_url_template, settings.dashboard_url_template)
    destinations: dict[str, Destination] = {}
    rates: dict[str, tuple[float, float]] = {}
    for s in settings.slack:
        history = (
            SlackHistory(client, s.history_token, s.history_channel, s.api_url)
            if s.history_token and s.history_channel and client is not None else None
        )
        destinations[s.name] = SlackWebhook(s.name, s.webhook_url, client, links, history=history)
        rates[s.name] = (s.rate_per_s, 1.0)
    for p in settings.pagerduty:
        destinations[p.name] = PagerDutyEvents(p.name, p.routing_key, client, links, url=p.url)
        rates[p.name] = (p.rate_per_s, max(1.0, p.rate_per_s))
    for w in settings.webhooks:
        destinations[w.name] = SignedWebhook(w.name, w.url, w.secret, client, links)
        rates[w.name] = (w.rate_per_s, max(1.0, w.rate_per_s))
    if not destinations:
        return None
    routes = [
        Route(
            tuple(r.destinations), r.min_severity, frozenset(r.services), frozenset(r.teams),
            frozenset(IncidentStatus(x) for x in r.statuses),
        )
        for r in settings.routes
    ] or [Route(tuple(destinations))]
    for route in routes:
        unknown = set(route.destinations) - destinations.keys()
        if unknown:
            raise ConfigError(f"route names unknown destinations {sorted(unknown)}",
                              source="notify.routes")
    policy = RetryPolicy(settings.retry_base_s, settings.retry_max_s, settings.max_attempts,
                         settings.lease_s)
    dispatcher = OutboxDispatcher(store, destinations, rates=rates, policy=policy)
    return OutboxNotifier(store, Router(routes), destinations, dispatcher)
