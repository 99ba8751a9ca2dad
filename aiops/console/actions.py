"""What people do from the console: acknowledge, resolve, silence, approve or reject, and
log in. Each write goes through :func:`aiops.console.auth.write_failure` first and then
through the same code as the API's route, so the console can do nothing the API would not.

Writes answer with the HTML fragment htmx swaps in: the new state, or the reason for a
refusal with the HTTP status the API would have given (401, 404, 409, 422, 503).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from aiops.api.auth import credential_of
from aiops.api.deps import ApiDeps, deps
from aiops.api.incidents import ChangeRequest, _change
from aiops.api.silence_ops import expire_silence, save_silence
from aiops.console.auth import COOKIE, write_failure
from aiops.console.pages import _local
from aiops.console.render import render
from aiops.model import CommandKind, ConflictError, NotFoundError
from aiops.storage.remediation import RemediationStore
from aiops.wire.shapes import incident_from_dict

router = APIRouter(prefix="/ui", include_in_schema=False)

#: Durations offered when silencing, in seconds.
DURATIONS = {"15m": 900, "1h": 3600, "4h": 4 * 3600, "24h": 86400, "7d": 7 * 86400}


def _refusal(request: Request, status: int, reason: str) -> HTMLResponse:
    came_from = urlsplit(request.headers.get("hx-current-url", "")).path or "/ui/incidents"
    return render(request, "_message.html", status_code=status, kind="error", message=reason,
                  next=_local(came_from))


def _actor(request: Request, given: str = "") -> str:
    return given.strip() or request.cookies.get("aiops_actor", "") or "console"


def _writer(request: Request, api: ApiDeps) -> HTMLResponse | None:
    reason = write_failure(request, api.settings)
    if reason is None:
        return None
    api.telemetry.rejected.labels("console", "401").inc()
    return _refusal(request, 401, f"unauthorized: {reason}")


@router.post("/incidents/{incident_id}/{change}", response_class=HTMLResponse)
async def change_incident(request: Request, incident_id: str, change: CommandKind,
                          note: str = Form(""), api: ApiDeps = Depends(deps)) -> Response:
    refused = _writer(request, api)
    if refused is not None:
        return refused
    try:
        result = await _change(incident_id, change, ChangeRequest(actor=_actor(request),
                                                                  note=note), api)
    except HTTPException as exc:
        return _refusal(request, exc.status_code, str(exc.detail))
    if isinstance(result, JSONResponse):  # 202: the correlator has not applied it yet
        incident = await run_in_threadpool(api.store.get_incident, incident_id)
        return render(request, "_changed.html", incident=incident, kind="ok",
                      message=f"{change.value} sent; waiting for the correlator")
    return render(request, "_changed.html", incident=incident_from_dict(result), kind="ok",
                  message=f"{change.value}d" if change == CommandKind.RESOLVE
                  else "acknowledged")


@router.post("/silences", response_class=HTMLResponse)
async def create_silence(
    request: Request, matchers: str = Form(...), duration: str = Form("1h"),
    comment: str = Form(""), created_by: str = Form(""), api: ApiDeps = Depends(deps),
) -> Response:
    """A silence from the console's form: one matcher per line (or comma-separated)."""
    refused = _writer(request, api)
    if refused is not None:
        return refused
    if duration not in DURATIONS:
        return _refusal(request, 422, f"duration must be one of {', '.join(DURATIONS)}")
    lines = [m.strip() for line in matchers.splitlines() for m in _split(line)]
    now = time.time()
    raw: dict[str, Any] = {"matchers": [m for m in lines if m], "startsAt": now,
                           "endsAt": now + DURATIONS[duration],
                           "createdBy": _actor(request, created_by),
                           "comment": comment or "silenced from the console"}
    try:
        spec = await save_silence(api, raw, "console")
    except HTTPException as exc:
        return _refusal(request, exc.status_code, str(exc.detail))
    return render(request, "_message.html", kind="ok", silence_id=spec.id,
                  message=f"silenced until {time.strftime('%H:%M:%SZ', time.gmtime(spec.ends_at))}"
                          f" ({len(spec.matchers)} matchers)")


def _split(line: str) -> list[str]:
    """Matchers separated by commas outside quotes.

    >>> _split('a="x,y", b=~"z"')
    ['a="x,y"', ' b=~"z"']
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


@router.post("/silences/{silence_id}/expire", response_class=HTMLResponse)
async def expire(request: Request, silence_id: str, api: ApiDeps = Depends(deps)) -> Response:
    refused = _writer(request, api)
    if refused is not None:
        return refused
    try:
        await expire_silence(api, silence_id, "console")
    except HTTPException as exc:
        return _refusal(request, exc.status_code, str(exc.detail))
    return render(request, "_message.html", kind="ok", message="expired")


@router.post("/approvals/{approval_id}/{verdict}", response_class=HTMLResponse)
async def decide(request: Request, approval_id: str, verdict: str, note: str = Form(""),
                 api: ApiDeps = Depends(deps)) -> Response:
    refused = _writer(request, api)
    if refused is not None:
        return refused
    if verdict not in ("approve", "reject"):
        return _refusal(request, 404, "verdict must be approve or reject")
    store = RemediationStore(api.store.engine)
    try:
        approval = await run_in_threadpool(store.decide, approval_id, verdict == "approve",
                                           _actor(request), note)
    except NotFoundError as exc:
        return _refusal(request, 404, str(exc))
    except ConflictError as exc:
        return _refusal(request, 409, str(exc))
    return render(request, "_message.html", kind="ok",
                  message=f"{approval.status} by {approval.decided_by}")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, token: str = Form(""), username: str = Form(""),
                password: str = Form(""), name: str = Form(""),
                next: str = Form("/ui/incidents"), api: ApiDeps = Depends(deps)) -> Response:
    """Check the credential once and keep it in an HttpOnly, SameSite=Strict cookie."""
    from base64 import b64encode

    if username:
        value = "Basic " + b64encode(f"{username}:{password}".encode()).decode()
    else:
        value = "Bearer " + token.strip()
    have, reason = credential_of(value, api.settings)  # a read credential may log in to look
    if have is None:
        api.telemetry.rejected.labels("console", "401").inc()
        return render(request, "login.html", status_code=401, next=_local(next),
                      error=reason)
    response = RedirectResponse(_local(next), status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, value, httponly=True, samesite="strict", secure=secure,
                        path="/ui")
    response.set_cookie("aiops_actor", (name or username or "console")[:100],
                        samesite="strict", secure=secure, path="/ui")
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/ui/incidents", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
