"""Claiming an outbox row for delivery, so that two senders never deliver the same row.

A claim is an optimistic lock on the row's ``attempts`` counter: it succeeds only if nobody
else counted an attempt since the row was read. The claim also marks the row ``sending`` and
hides it until ``lease_until``; if the sender dies mid-delivery, the row reappears after the
lease as *in doubt* (``last_error == SENDING``) and the next sender reconciles before resending.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Engine, Table, update

from aiops.storage.tables import OutboxRecord

SENDING = "sending"

_outbox = cast(Table, OutboxRecord.__table__)


def claim(engine: Engine, row_id: int, attempts: int, lease_until: float) -> bool:
    """Mark row ``row_id`` as being sent if it still has ``attempts``; True if claimed."""
    c = _outbox.c
    with engine.begin() as conn:
        result = conn.execute(
            update(_outbox)
            .where(c.id == row_id, c.sent_at.is_(None), c.attempts == attempts)
            .values(attempts=attempts + 1, last_error=SENDING, next_attempt_at=lease_until)
        )
    return int(result.rowcount) == 1
