"""Values refused at the HTTP edge, with a 4xx that says why, before they reach a topic or the
store.

A 500 is the worst answer a receiver can give: Alertmanager and Prometheus retry it for ever,
and the same bad value comes back each time. So everything the stages or the store cannot
hold is refused here: NUL bytes (PostgreSQL text cannot store them) in the path, the query or
a JSON body; times that are not finite or outside 1970..9999-01-01
(:func:`aiops.wire.timefmt.checked_time`);
and a record larger than the broker takes (``api.max_record_bytes``), which would fail in
the producer and be retried for ever.

>>> find_nul({"labels": {"a": "ok", "b": ["x", "y\\x00"]}})
'labels.b[1]'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from streams.producer import Record

#: Deeper pages than this are refused (422) rather than overflowing a database integer.
MAX_OFFSET = 1_000_000_000


def find_nul(value: Any, path: str = "") -> str | None:
    """Where the first string (key or value) holding a NUL byte is, or ``None``."""
    if isinstance(value, str):
        return path or "value" if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = find_nul(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = find_nul(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def refuse_nul_in_body(body: bytes, parsed: Any) -> None:
    """422 when a JSON string of the body holds a NUL (cheap test on the raw bytes first)."""
    if b"\\u0000" not in body:
        return
    where = find_nul(parsed)
    if where is not None:
        raise HTTPException(422, f"{where}: NUL bytes are not allowed in strings")


def nul_in_url(scope: Scope) -> str | None:
    """Why the request's path or query holds a NUL byte, or ``None`` (cheap test first)."""
    if "\x00" in scope.get("path", ""):
        return "the path holds a NUL byte"
    raw: bytes = scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return None
    for key, value in Request(scope).query_params.multi_items():
        if "\x00" in key or "\x00" in value:
            return f"query parameter {key!r} holds a NUL byte"
    return None


class RefuseNulInUrl:
    """ASGI middleware: a NUL byte in the path or a query parameter is a 400 before any
    route sees it (PostgreSQL cannot compare text with it: the query would fail as a 500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = nul_in_url(scope) if scope["type"] == "http" else None
        if reason is None:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"detail": reason}, status_code=400)(scope, receive, send)


def oversized(records: Sequence[Record], limit: int) -> tuple[int, int] | None:
    """(index, size) of the first record larger than ``limit`` bytes, or ``None``."""
    for index, record in enumerate(records):
        size = len(record.value) + len(record.key or b"")
        if size > limit:
            return index, size
    return None


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL bytes are not allowed")
    return value


#: A free-text field of a request body: no NUL byte, bounded length.
Text = Annotated[str, AfterValidator(_no_nul), Field(max_length=10_000)]
#: A short name (actor, action): the store keeps 255 characters.
Name = Annotated[str, AfterValidator(_no_nul), Field(max_length=255)]
#: An incident signature: the store keeps 512 characters.
Signature = Annotated[str, AfterValidator(_no_nul), Field(max_length=512)]
