"""Who may call what: one access policy for every route, applied by the application itself.

There are two credentials. The *write* credential (``api.bearer_token`` and/or
``api.basic_username``/``api.basic_password``, what Alertmanager's and Prometheus'
``http_config`` send) is needed by every request that changes something: the receivers,
acknowledge/resolve, silences, topology updates, the kill switch, learning, approvals. The
*read* credential (``api.read_token``) is needed by every read route when it is set; the write
credential reads too. ``/healthz`` and ``/readyz`` stay open (probes send no credentials);
``/metrics`` is a read route (Prometheus sends the read token with ``authorization`` in its
scrape config); the API description (``/openapi.json``, ``/docs``) is open.

The policy is decided by the HTTP method, not by a list of protected routes, so a route added
later is protected by default: only a safe method (GET, HEAD, OPTIONS) is a read. A missing or
wrong credential answers 401 with a challenge; the read credential on a write route answers
403 (it was recognised, it is just not enough).

>>> access_for("GET", "/api/v1/incidents"), access_for("PUT", "/api/v1/remediation/kill-switch")
('read', 'write')
>>> access_for("GET", "/healthz"), access_for("POST", "/api/v1/write")
('open', 'write')
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aiops.settings import ApiSettings
from aiops.telemetry import Telemetry

Access = Literal["open", "read", "write"]

#: Routes any caller may reach: liveness and readiness probes carry no credentials, and the
#: API description holds no data.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                        "/redoc"})
#: The web console applies this same policy itself (:mod:`aiops.console.auth`), reading the
#: credential from its login cookie as well, so that a browser is sent to the login page.
CONSOLE_PREFIX = "/ui"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The name a refused request is counted under in ``aiops_receiver_rejected_total``.
RECEIVER_NAMES = {"/api/v1/alerts/alertmanager": "alertmanager", "/api/v1/write": "remote_write"}


def access_for(method: str, path: str) -> Access:
    """The credential a request needs: by method, so new routes are protected by default."""
    if path in OPEN_PATHS or path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        return "open"
    return "read" if method.upper() in SAFE_METHODS else "write"


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


def credential_of(header: str, settings: ApiSettings) -> tuple[Access | None, str]:
    """Which credential an ``Authorization`` header carries: ("write"|"read", "") when it is
    accepted, (None, why) when not.

    Accepts ``authorization`` (type Bearer), ``bearer_token`` and ``basic_auth`` as
    Alertmanager and Prometheus send them; the scheme name is case-insensitive (RFC 7235).
    Every configured secret is compared in constant time, and both halves of basic auth are
    always compared, so timing does not reveal which was wrong.
    """
    if not header:
        return None, "no Authorization header"
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        if not settings.bearer_token and not settings.read_token:
            return None, "bearer tokens are not accepted here; use basic auth"
        token = value.strip()
        write = bool(settings.bearer_token) and _same(token, settings.bearer_token)
        read = bool(settings.read_token) and _same(token, settings.read_token)
        if write:
            return "write", ""
        return ("read", "") if read else (None, "invalid bearer token")
    if scheme == "basic":
        if not settings.basic_username:
            return None, "basic auth is not accepted here; use a bearer token"
        creds = _basic_credentials(value)
        if creds is None:
            return None, "malformed basic credentials"
        ok_user = _same(creds[0], settings.basic_username)
        ok_pass = _same(creds[1], settings.basic_password)
        return ("write", "") if ok_user and ok_pass else (None, "invalid username or password")
    return None, f"unsupported authorization scheme {scheme!r}"


def refusal(request: Request, settings: ApiSettings) -> tuple[int, str] | None:
    """(status, reason) when the request may not go on, ``None`` when it may."""
    needed = access_for(request.method, request.url.path)
    write_set = bool(settings.bearer_token or settings.basic_username)
    if needed == "open":
        return None
    if needed == "read" and not settings.read_token:
        return None  # reads are open unless a read credential is configured
    if needed == "write" and not write_set:
        return None  # the loopback default: nothing configured, nothing required
    have, why = credential_of(request.headers.get("authorization", ""), settings)
    if have is None:
        return 401, why
    if needed == "write" and have != "write":
        return 403, "the read credential cannot change anything; use the write credential"
    return None


def _challenges(settings: ApiSettings) -> str:
    out = []
    if settings.bearer_token or settings.read_token:
        out.append('Bearer realm="aiops"')
    if settings.basic_username:
        out.append('Basic realm="aiops", charset="UTF-8"')
    return ", ".join(out)


class AccessControl:
    """ASGI middleware applying :func:`refusal` before routing and body parsing, so a
    request without the right credential gets its 401/403 whatever its body or path (a
    malformed body is not even read, an unknown path is not revealed as a 404)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        api = scope["app"].state.deps
        settings: ApiSettings = api.settings
        refused = refusal(request, settings)
        if refused is None:
            await self.app(scope, receive, send)
            return
        code, reason = refused
        telemetry: Telemetry = api.telemetry
        telemetry.rejected.labels(RECEIVER_NAMES.get(request.url.path, "api"), str(code)).inc()
        if code == 401:
            response = JSONResponse({"detail": f"unauthorized: {reason}"}, status_code=401,
                                    headers={"WWW-Authenticate": _challenges(settings)})
        else:
            response = JSONResponse({"detail": f"forbidden: {reason}"}, status_code=403)
        await response(scope, receive, send)


def document_security(app: Any) -> None:
    """Declare the credentials in the OpenAPI spec (bearer: write or read token; basic: the
    write credential), so clients and fuzzers know how to send them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            spec.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "api.bearer_token (write) or api.read_token (read)"},
                "basic": {"type": "http", "scheme": "basic",
                          "description": "api.basic_username / api.basic_password (write)"},
            }
            for path, item in spec.get("paths", {}).items():
                for method, operation in item.items():
                    if access_for(method, path) != "open":
                        operation["security"] = [{"bearer": []}, {"basic": []}, {}]
            app.openapi_schema = spec
        return dict(app.openapi_schema)

    app.openapi = openapi
