"""Checkpoints of stage state per input partition: what a detect worker learnt, saved with
the offset it had reached, so that the worker that next owns the partition (after a restart
or a rebalance) resumes from there instead of learning every series again.

One row per (consumer group, topic, partition), replaced on every save; the state is an
opaque blob (the stage pickles it), kept beside the offset in one row so the two can never
disagree.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Double, Engine, LargeBinary, String, Table, select, update
from sqlalchemy.orm import Mapped, mapped_column

from aiops.storage.tables import Base


class CheckpointRecord(Base):
    """The latest checkpoint of one input partition of one consumer group."""

    __tablename__ = "stage_checkpoints"

    consumer_group: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[float] = mapped_column(Double)


checkpoints_t = cast(Table, CheckpointRecord.__table__)


class CheckpointStore:
    """Checkpoints on the shared database (SQLite or PostgreSQL).

    >>> from aiops.storage.engine import create_engine
    >>> from aiops.storage.tables import metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> store = CheckpointStore(engine, "aiops.detect")
    >>> store.save("aiops.metrics", 2, 120, b"state", saved_at=1.0)
    >>> store.save("aiops.metrics", 2, 180, b"newer", saved_at=2.0)
    >>> store.load("aiops.metrics", 2), store.load("aiops.metrics", 0)
    ((180, b'newer'), None)
    """

    def __init__(self, engine: Engine, group: str) -> None:
        self._engine = engine
        self.group = group

    def _where(self, topic: str, partition: int) -> list[object]:
        c = checkpoints_t.c
        return [c.consumer_group == self.group, c.topic == topic, c.partition == partition]

    def save(self, topic: str, partition: int, next_offset: int, state: bytes, *,
             saved_at: float) -> None:
        """Replace the partition's checkpoint (state as of every offset below
        ``next_offset``)."""
        values = {"next_offset": next_offset, "state": state, "saved_at": saved_at}
        where = self._where(topic, partition)
        with self._engine.begin() as conn:
            done = conn.execute(update(checkpoints_t).where(*where).values(values))  # type: ignore[arg-type]
            if done.rowcount == 0:
                conn.execute(checkpoints_t.insert().values(
                    consumer_group=self.group, topic=topic, partition=partition, **values))

    def load(self, topic: str, partition: int) -> tuple[int, bytes] | None:
        """``(next_offset, state)`` of the partition's checkpoint, or None."""
        c = checkpoints_t.c
        with self._engine.connect() as conn:
            row = conn.execute(select(c.next_offset, c.state)
                               .where(*self._where(topic, partition))).first()  # type: ignore[arg-type]
        return None if row is None else (int(row[0]), bytes(row[1]))
