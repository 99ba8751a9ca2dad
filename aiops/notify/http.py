"""One POST with the retry classification every HTTP destination shares.

Why a shared helper: Slack, PagerDuty and generic webhooks differ in body and headers but
agree on what an answer means for delivery: 2xx delivered, 429 slow down (``Retry-After``),
5xx and network errors transient, any other 4xx permanent.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import httpx

from aiops.notify.errors import BackpressureError, PermanentDeliveryError, TransientDeliveryError

DEFAULT_RETRY_AFTER_S = 1.0


def retry_after_seconds(value: str | None, now: float) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date).

    >>> retry_after_seconds("7", 0.0)
    7.0
    >>> retry_after_seconds(None, 0.0)
    1.0
    >>> retry_after_seconds("Thu, 01 Jan 1970 00:00:30 GMT", 10.0)
    20.0
    """
    if not value:
        return DEFAULT_RETRY_AFTER_S
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S


def post(
    client: httpx.Client | None,
    destination: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
) -> httpx.Response:
    """POST ``body``; return the 2xx response or raise the matching delivery error.

    ``client`` is None in a process that only renders messages (the correlate stage): a
    send from there is a wiring mistake, refused as a transient error, never a crash."""
    if client is None:
        raise TransientDeliveryError(destination, "no HTTP client in this process")
    try:
        response = client.post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:  # connect, read, timeout, protocol errors
        raise TransientDeliveryError(destination, f"{type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return response
    if status == 429:
        raise BackpressureError(
            destination, retry_after_seconds(response.headers.get("retry-after"), now)
        )
    if status >= 500:
        raise TransientDeliveryError(destination, f"HTTP {status}", status=status)
    raise PermanentDeliveryError(destination, status, response.text)
