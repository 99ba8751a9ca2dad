"""Alertmanager's webhook payload (version 4): the accepted shape and its decoder.

Alertmanager retries a 5xx for ever and never a 4xx, so everything here refuses with a
:class:`~aiops.model.DecodeError` whose reason says what to fix; the receiver turns it into
a 422. Fields the engine does not use are ignored, so payloads of newer Alertmanager releases
(which add fields, never remove them) keep working.

Validation is by hand rather than through a pydantic model: a model would be built and
dumped again for every alert, which halves the receiver's throughput, and the alert decoder
already checks every field it uses. The OpenAPI document describes the shape
(``aiops.api.schemas.WEBHOOK``).

>>> payload = {"version": "4", "alerts": [{"labels": {"alertname": "HighLatency",
...            "service": "cart"}, "startsAt": "2026-12-02T10:00:00Z"}]}
>>> webhook = decode_webhook(payload)
>>> webhook.alerts[0].labels["service"], webhook.truncated
('cart', 0)
>>> try:
...     decode_webhook({"version": "4", "alerts": [{"labels": {"a": "b"}, "startsAt": 1e300}]})
... except DecodeError as exc:
...     print(exc.reason)
alerts[0]: startsAt 1e+300 is out of range (1970 to 9999)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiops.model import Alert, DecodeError
from aiops.wire.shapes import alert_from_dict
from aiops.wire.timefmt import checked_time

SUPPORTED_WEBHOOK_VERSION = "4"
KIND = "webhook payload"


@dataclass(frozen=True, slots=True)
class Webhook:
    """A decoded payload: its alerts, and how many Alertmanager left out (``max_alerts``)."""

    alerts: list[Alert]
    truncated: int


def decode_webhook(raw: object) -> Webhook:
    """The alerts of a version 4 payload (parsed JSON); :class:`DecodeError` names the first
    thing wrong, with the alert's index (``alerts[3]: startsAt ...``)."""
    if not isinstance(raw, Mapping):
        raise DecodeError("the webhook payload must be a JSON object", kind=KIND)
    version = raw.get("version")
    if version != SUPPORTED_WEBHOOK_VERSION:
        raise DecodeError(f"unsupported webhook payload version {version!r}, "
                          f"expected {SUPPORTED_WEBHOOK_VERSION!r}", kind=KIND)
    items = raw.get("alerts")
    if not isinstance(items, list):
        raise DecodeError("'alerts' must be a list of alerts", kind=KIND)
    truncated = raw.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise DecodeError("'truncatedAlerts' must be a non-negative integer", kind=KIND)
    alerts = []
    for index, item in enumerate(items):
        try:
            alert = alert_from_dict(item)
            checked_time(alert.starts_at, "startsAt")
            checked_time(alert.ends_at, "endsAt")
        except DecodeError as exc:
            raise DecodeError(f"alerts[{index}]: {exc.reason}", kind=KIND) from exc
        alerts.append(alert)
    return Webhook(alerts, truncated)
