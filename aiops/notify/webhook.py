"""A generic JSON webhook signed with HMAC-SHA256, Stripe-style.

The receiver checks ``X-Aiops-Signature: sha256=<hex>`` over ``"<timestamp>.<body>"`` with the
shared secret (and rejects old timestamps against replay); ``Idempotency-Key`` carries the
outbox key, so a receiver that remembers keys never acts twice on an in-doubt redelivery.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from aiops.model import Incident
from aiops.notify.http import post
from aiops.notify.links import Links
from aiops.wire.shapes import incident_to_dict

SCHEMA = "aiops.notification/v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value.

    >>> signature("s3cret", "1700000000", b'{"a":1}')[:15]
    'sha256=1698a50b'
    """
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver runs: constant-time comparison of the expected signature."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def webhook_body(incident: Incident, key: str, links: Mapping[str, str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "event": f"incident.{incident.status.value}",
        "key": key,
        "incident": incident_to_dict(incident),
        "links": dict(links),
    }


class SignedWebhook:
    """A JSON endpoint of the user's own as an outbox destination."""

    idempotent = True

    def __init__(
        self, name: str, url: str, secret: str, client: httpx.Client | None,
        links: Links
    ) -> None:
        self.name = name
        self._url = url
        self._secret = secret
        self._client = client
        self._links = links

    def render(self, incident: Incident, key: str) -> bytes:
        return orjson.dumps(webhook_body(incident, key, self._links.for_incident(incident)))

    def deliver(self, payload: bytes, key: str, now: float) -> None:
        timestamp = str(int(now))
        headers = {
            "content-type": "application/json",
            "idempotency-key": key,
            "x-aiops-timestamp": timestamp,
        }
        if self._secret:
            headers["x-aiops-signature"] = signature(self._secret, timestamp, payload)
        post(self._client, self.name, self._url, payload, headers, now)

    def delivered(self, key: str, since: float) -> bool | None:
        return None
