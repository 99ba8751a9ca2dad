"""Portable ``INSERT ... ON CONFLICT`` for the two databases we support.

SQLite (>= 3.24) and PostgreSQL share the ``ON CONFLICT`` syntax, but SQLAlchemy builds it
through each dialect's own ``insert``; this picks the right one for a connection.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from aiops.storage.errors import UnsupportedDatabaseError


def upsert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """A dialect ``Insert`` for ``table`` that has ``on_conflict_do_*`` and ``excluded``."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise UnsupportedDatabaseError(name)
