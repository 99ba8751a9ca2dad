"""What the API's routes need, built by :mod:`aiops.app` and stored on ``app.state``."""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request

from aiops.settings import ApiSettings
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.producer import EventProducer
from streams.topics import Topics


@dataclass
class ApiDeps:
    settings: ApiSettings
    store: Store
    producer: EventProducer
    topics: Topics
    telemetry: Telemetry
    #: the stage workers of this process (``aiops run``), for readiness; None in ``aiops api``
    workers: Callable[[], Sequence[Mapping[str, Any]]] | None = None


def deps(request: Request) -> ApiDeps:
    found: ApiDeps = request.app.state.deps
    return found


def _same(given: str, expected: str) -> bool:
    """Constant-time equality: the time taken does not tell how much of a secret matched."""
    return hmac.compare_digest(given.encode(), expected.encode())


def _basic_credentials(value: str) -> tuple[str, str] | None:
    try:
        decoded = b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def auth_failure(request: Request, settings: ApiSettings) -> str | None:
    """Why the request's credentials are refused, or ``None`` when they are accepted.

    Accepts what Alertmanager's and Prometheus' ``http_config`` send: ``authorization``
    (type Bearer, the default), ``bearer_token`` and ``basic_auth``. The scheme name is
    case-insensitive (RFC 7235). Every configured secret is compared in constant time, and
    both halves of basic auth are always compared, so timing does not reveal which was wrong.
    When nothing is configured the receivers are open (the loopback default).
    """
    if not settings.bearer_token and not settings.basic_username:
        return None
    header = request.headers.get("authorization", "")
    if not header:
        return "no Authorization header"
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        if not settings.bearer_token:
            return "bearer tokens are not accepted here; use basic auth"
        return None if _same(value.strip(), settings.bearer_token) else "invalid bearer token"
    if scheme == "basic":
        if not settings.basic_username:
            return "basic auth is not accepted here; use a bearer token"
        creds = _basic_credentials(value)
        if creds is None:
            return "malformed basic credentials"
        ok_user = _same(creds[0], settings.basic_username)
        ok_pass = _same(creds[1], settings.basic_password)
        return None if ok_user and ok_pass else "invalid username or password"
    return f"unsupported authorization scheme {scheme!r}"


def check_auth(request: Request, settings: ApiSettings, telemetry: Telemetry | None = None,
               receiver: str = "api") -> None:
    """Raise a 401 with a ``WWW-Authenticate`` challenge unless the credentials are accepted."""
    reason = auth_failure(request, settings)
    if reason is None:
        return
    if telemetry is not None:
        telemetry.rejected.labels(receiver, "401").inc()
    challenges = []
    if settings.bearer_token:
        challenges.append('Bearer realm="aiops"')
    if settings.basic_username:
        challenges.append('Basic realm="aiops", charset="UTF-8"')
    raise HTTPException(
        status_code=401,
        detail=f"unauthorized: {reason}",
        headers={"WWW-Authenticate": ", ".join(challenges)},
    )
