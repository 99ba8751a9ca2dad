"""Who may look and who may act in the console: the one place to change when the API's
credentials change.

Acting (acknowledge, resolve, silence, approve or reject) needs the API's write credential,
checked by :func:`aiops.api.deps.auth_failure`, the same function the API's routes use. A
browser cannot attach a bearer token to a link or a form, so the console also accepts the
credential from a cookie that its login page sets (``HttpOnly``, ``SameSite=Strict``). A
cookie is sent by the browser whoever made the page, so a write authorised by the cookie must
also carry htmx's ``HX-Request`` header, which a cross-site form cannot set: that closes the
cross-site request forgery a cookie would otherwise open.

Reading is open, as the API's reads are; :func:`read_failure` is where a read credential
would be checked.
"""

from __future__ import annotations

from fastapi import Request

from aiops.api.deps import auth_failure
from aiops.settings import ApiSettings

#: The cookie holding an ``Authorization`` header value (``Bearer …`` or ``Basic …``).
COOKIE = "aiops_credential"


def credentials_required(settings: ApiSettings) -> bool:
    return bool(settings.bearer_token or settings.basic_username)


def _with_authorization(request: Request, value: str) -> Request:
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", value.encode("latin-1", "replace")))
    return Request({**request.scope, "headers": headers})


def check_credential(value: str, request: Request, settings: ApiSettings) -> str | None:
    """Why an ``Authorization`` header value is refused, or ``None`` if accepted."""
    return auth_failure(_with_authorization(request, value), settings)


def write_failure(request: Request, settings: ApiSettings) -> str | None:
    """Why this request may not change anything, or ``None`` when it may."""
    if not credentials_required(settings):
        return None
    if request.headers.get("authorization"):
        return auth_failure(request, settings)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return "this needs the write credential: log in first"
    if request.headers.get("hx-request") != "true":
        return "a write authorised by the login cookie must come from the console's own page"
    return check_credential(cookie, request, settings)


def read_failure(request: Request, settings: ApiSettings) -> str | None:
    """Why this request may not read the console, or ``None`` (reads are open today)."""
    return None


def logged_in(request: Request, settings: ApiSettings) -> bool:
    """Whether the browser holds an accepted credential (shown in the page header)."""
    cookie = request.cookies.get(COOKIE)
    return bool(cookie) and check_credential(cookie or "", request, settings) is None
