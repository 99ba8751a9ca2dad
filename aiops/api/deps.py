"""What the API's routes need, built by :mod:`aiops.app` and stored on ``app.state``."""

from __future__ import annotations

import hmac
from base64 import b64decode
from dataclasses import dataclass

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


def deps(request: Request) -> ApiDeps:
    found: ApiDeps = request.app.state.deps
    return found


def check_auth(request: Request, settings: ApiSettings) -> None:
    """Bearer token or basic auth, as Alertmanager's ``http_config`` sends them.

    Constant-time comparisons; when nothing is configured the receivers are open (loopback
    default). A failure is a 401 with a ``WWW-Authenticate`` challenge.
    """
    if not settings.bearer_token and not settings.basic_username:
        return
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if settings.bearer_token and scheme.lower() == "bearer":
        if hmac.compare_digest(value.strip().encode(), settings.bearer_token.encode()):
            return
    elif settings.basic_username and scheme.lower() == "basic":
        try:
            user, _, password = b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        ok_user = hmac.compare_digest(user.encode(), settings.basic_username.encode())
        ok_pass = hmac.compare_digest(password.encode(), settings.basic_password.encode())
        if ok_user and ok_pass:
            return
    raise HTTPException(
        status_code=401,
        detail="missing or invalid credentials",
        headers={"WWW-Authenticate": "Bearer" if settings.bearer_token else "Basic"},
    )
