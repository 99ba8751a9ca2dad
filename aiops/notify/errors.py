"""Delivery errors: each says whether (and when) a message may be tried again."""

from __future__ import annotations

from aiops.model import AiopsError, BackpressureError

__all__ = ["BackpressureError", "PermanentDeliveryError", "TransientDeliveryError"]


class TransientDeliveryError(AiopsError):
    """A 5xx answer or a network failure: worth retrying with exponential backoff."""

    def __init__(self, destination: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{destination}: {reason}")
        self.destination = destination
        self.reason = reason
        self.status = status


class PermanentDeliveryError(AiopsError):
    """A 4xx answer other than 429: the request itself is wrong and retrying cannot help."""

    def __init__(self, destination: str, status: int, body: str) -> None:
        super().__init__(f"{destination}: HTTP {status}: {body[:200]}")
        self.destination = destination
        self.status = status
        self.body = body
