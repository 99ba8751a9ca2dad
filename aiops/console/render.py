"""Template rendering: one Jinja2 environment per app, with the console's filters."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from aiops import __version__
from aiops.api.deps import ApiDeps
from aiops.console.auth import credentials_required, logged_in

HERE = Path(__file__).resolve().parent


def when(ts: float | None) -> str:
    """Epoch seconds as a short UTC time for people.

    >>> when(1_790_000_000.0)
    '2026-09-21 14:13:20Z'
    >>> when(None)
    '—'
    """
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def ago(ts: float | None, now: float | None = None) -> str:
    """How long ago, roughly.

    >>> ago(100.0, now=100.0 + 7200)
    '2h ago'
    >>> ago(100.0, now=95.0)
    'in 5s'
    """
    if ts is None:
        return ""
    delta = (time.time() if now is None else now) - ts
    suffix = "ago" if delta >= 0 else ""
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if delta >= size:
            text = f"{int(delta // size)}{unit}"
            break
    else:
        text = f"{int(delta)}s"
    return f"{text} {suffix}" if suffix else f"in {text}"


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["when"] = when
    templates.env.filters["ago"] = ago
    templates.env.globals["version"] = __version__
    return templates


def render(request: Request, name: str, status_code: int = 200, **context: Any
           ) -> HTMLResponse:
    api: ApiDeps = request.app.state.deps
    templates: Jinja2Templates = request.app.state.console_templates
    context.setdefault("auth_required", credentials_required(api.settings))
    context.setdefault("logged_in", logged_in(request, api.settings))
    context.setdefault("actor", request.cookies.get("aiops_actor", ""))
    return templates.TemplateResponse(request, name, context, status_code=status_code)
