"""Who may look and who may act in the console: the API's access policy, with a cookie.

The console applies the same two credentials as the API (:mod:`aiops.api.auth`): acting
(acknowledge, resolve, silence, approve or reject) needs the write credential, and reading
needs the read credential when one is set (the write credential reads too). A browser cannot
attach a bearer token to a link or a form, so the console also accepts the credential from a
cookie that its login page sets (``HttpOnly``, ``SameSite=Strict``). A cookie is sent by the
browser whoever made the page, so a write authorised by the cookie must also carry htmx's
``HX-Request`` header, which a cross-site form cannot set: that closes the cross-site request
forgery a cookie would otherwise open. The API's middleware leaves ``/ui`` to this module
(:data:`aiops.api.auth.CONSOLE_PREFIX`) so that a browser without a credential gets the login
page rather than a bare 401.
"""

from __future__ import annotations

from fastapi import Request

from aiops.api.auth import credential_of
from aiops.settings import ApiSettings

#: The cookie holding an ``Authorization`` header value (``Bearer …`` or ``Basic …``).
COOKIE = "aiops_credential"


def credentials_required(settings: ApiSettings) -> bool:
    return bool(settings.bearer_token or settings.basic_username)


def check_credential(value: str, request: Request, settings: ApiSettings) -> str | None:
    """Why an ``Authorization`` header value is refused for writing, or ``None``."""
    have, why = credential_of(value, settings)
    if have is None:
        return why
    if have != "write":
        return "the read credential cannot change anything; use the write credential"
    return None


def write_failure(request: Request, settings: ApiSettings) -> str | None:
    """Why this request may not change anything, or ``None`` when it may."""
    if not credentials_required(settings):
        return None
    header = request.headers.get("authorization")
    if header:
        return check_credential(header, request, settings)
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return "this needs the write credential: log in first"
    if request.headers.get("hx-request") != "true":
        return "a write authorised by the login cookie must come from the console's own page"
    return check_credential(cookie, request, settings)


def read_failure(request: Request, settings: ApiSettings) -> str | None:
    """Why this request may not read the console, or ``None`` (open without a read token)."""
    if not settings.read_token:
        return None
    header = request.headers.get("authorization") or request.cookies.get(COOKIE, "")
    if not header:
        return "this needs the read credential: log in first"
    have, why = credential_of(header, settings)
    return None if have is not None else why


def logged_in(request: Request, settings: ApiSettings) -> bool:
    """Whether the browser holds an accepted credential (shown in the page header)."""
    cookie = request.cookies.get(COOKIE)
    return bool(cookie) and credential_of(cookie or "", settings)[0] is not None
