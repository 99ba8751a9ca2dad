"""Silences' table and repository: what the API creates and expires, and what the correlate
stage loads on start so silences survive restarts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, Double, Engine, String, Table, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from aiops.model import NotFoundError
from aiops.silences import MatcherSpec, SilenceSpec
from aiops.storage.tables import Base


class SilenceRecord(Base):
    """A silence or maintenance window; ``expired_at`` is set when it was expired early."""

    __tablename__ = "silences"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    starts_at: Mapped[float] = mapped_column(Double)
    ends_at: Mapped[float] = mapped_column(Double, index=True)
    created_by: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Double)
    expired_at: Mapped[float | None] = mapped_column(Double)


silences_t = cast(Table, SilenceRecord.__table__)


def _values(spec: SilenceSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "matchers": [m.to_dict() for m in spec.matchers],
        "starts_at": spec.starts_at,
        "ends_at": spec.ends_at,
        "created_by": spec.created_by,
        "comment": spec.comment,
        "updated_at": spec.updated_at,
        "expired_at": spec.expired_at,
    }


def _spec(row: Any) -> SilenceSpec:
    matchers = tuple(MatcherSpec(m["name"], m["value"], bool(m["isRegex"]), bool(m["isEqual"]))
                     for m in row.matchers)
    return SilenceSpec(row.id, matchers, row.starts_at, row.ends_at, row.created_by,
                       row.comment, row.updated_at, row.expired_at)


class SilenceStore:
    """Silences on the shared database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def save(self, spec: SilenceSpec) -> None:
        """Insert ``spec``, or replace the silence with its id."""
        values = _values(spec)
        with self._engine.begin() as conn:
            found = conn.execute(select(silences_t.c.id).where(silences_t.c.id == spec.id))
            if found.first() is None:
                conn.execute(silences_t.insert().values(values))
            else:
                conn.execute(update(silences_t).where(silences_t.c.id == spec.id)
                             .values(values))

    def delete(self, silence_id: str) -> None:
        """Forget a silence that never took effect (its announcement failed)."""
        with self._engine.begin() as conn:
            conn.execute(silences_t.delete().where(silences_t.c.id == silence_id))

    def get(self, silence_id: str) -> SilenceSpec:
        with self._engine.connect() as conn:
            row = conn.execute(select(silences_t).where(silences_t.c.id == silence_id)).first()
        if row is None:
            raise NotFoundError("silence", silence_id)
        return _spec(row)

    def listed(self, now: float, *, expired: bool = False) -> list[SilenceSpec]:
        """Active and pending silences at wall-clock ``now`` (with ``expired``, every one),
        by start time."""
        c = silences_t.c
        query = select(silences_t).order_by(c.starts_at, c.id)
        if not expired:
            query = query.where(c.expired_at.is_(None), c.ends_at > now)
        return self._specs(query)

    def in_force(self, after: float | None) -> list[SilenceSpec]:
        """Silences not expired early that end after ``after`` (event time; ``None``: any
        end), oldest first: what the correlate stage puts in force on start."""
        c = silences_t.c
        query = select(silences_t).where(c.expired_at.is_(None)).order_by(c.starts_at, c.id)
        if after is not None:
            query = query.where(c.ends_at > after)
        return self._specs(query)

    def expire(self, silence_id: str, now: float) -> SilenceSpec:
        """Expire a silence at wall-clock ``now`` (a no-op when it already was)."""
        spec = self.get(silence_id).expire(now)
        self.save(spec)
        return spec

    def _specs(self, query: Any) -> list[SilenceSpec]:
        with self._engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(query).all()
        return [_spec(row) for row in rows]
