"""The transactional outbox: notifications written with the state they announce.

A stage that changes an incident writes the incident and one outbox row per destination in
one transaction; a dispatcher later reads :func:`pending` rows, delivers them and marks them
sent or failed. A crash between the two loses nothing (the row stays pending) and a
redelivered input repeats nothing (``(destination, dedup_key)`` is unique, the insert is
ignored). Delivery is at-least-once: a crash after delivery but before :func:`mark_sent`
delivers again, so destinations should take ``dedup_key`` as their idempotency key.
:func:`select_pending` takes no row locks: run one dispatcher per destination (the stage
that owns it), not several competing for the same rows.

These functions take a :class:`~sqlalchemy.Connection` so that callers choose the
transaction; :class:`aiops.storage.Store` wraps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, select, update

from aiops.storage.dml import upsert
from aiops.storage.tables import OutboxRecord

_outbox = cast(Table, OutboxRecord.__table__)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message for one destination; ``dedup_key`` names the event, e.g.
    ``"<incident id>:<state>"``, so the same event is enqueued at most once per destination."""

    destination: str
    dedup_key: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A stored outbox message with its delivery bookkeeping."""

    id: int
    destination: str
    dedup_key: str
    payload: bytes
    created_at: float
    sent_at: float | None
    attempts: int
    last_error: str
    next_attempt_at: float


def insert_messages(conn: Connection, messages: Iterable[OutboxMessage], now: float) -> int:
    """Insert messages, ignoring any whose ``(destination, dedup_key)`` exists; count new rows."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for msg in messages:
        key = (msg.destination, msg.dedup_key)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "destination": msg.destination,
                "dedup_key": msg.dedup_key,
                "payload": bytes(msg.payload),
                "created_at": now,
                "sent_at": None,
                "attempts": 0,
                "last_error": "",
                "next_attempt_at": now,
            }
        )
    if not rows:
        return 0
    stmt = (
        upsert(conn, _outbox)
        .on_conflict_do_nothing(index_elements=["destination", "dedup_key"])
        .returning(_outbox.c.id)
    )
    return len(conn.execute(stmt, rows).all())


def select_pending(
    conn: Connection, destination: str | None, now: float, limit: int
) -> list[OutboxRow]:
    c = _outbox.c
    query = (
        select(_outbox)
        .where(c.sent_at.is_(None), c.next_attempt_at <= now)
        .order_by(c.id)
        .limit(limit)
    )
    if destination is not None:
        query = query.where(c.destination == destination)
    return [
        OutboxRow(
            id=r.id,
            destination=r.destination,
            dedup_key=r.dedup_key,
            payload=bytes(r.payload),
            created_at=r.created_at,
            sent_at=r.sent_at,
            attempts=r.attempts,
            last_error=r.last_error,
            next_attempt_at=r.next_attempt_at,
        )
        for r in conn.execute(query)
    ]


def set_sent(conn: Connection, ids: Sequence[int], now: float) -> None:
    if not ids:
        return
    c = _outbox.c
    conn.execute(
        update(_outbox).where(c.id.in_(list(ids)), c.sent_at.is_(None)).values(sent_at=now)
    )


def set_failed(conn: Connection, row_id: int, error: str, next_attempt_at: float) -> None:
    c = _outbox.c
    conn.execute(
        update(_outbox)
        .where(c.id == row_id, c.sent_at.is_(None))
        .values(attempts=c.attempts + 1, last_error=error, next_attempt_at=next_attempt_at)
    )


def delete_sent(conn: Connection, before: float) -> int:
    c = _outbox.c
    result = conn.execute(delete(_outbox).where(c.sent_at.is_not(None), c.sent_at < before))
    return int(result.rowcount)
