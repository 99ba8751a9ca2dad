"""Portable ``INSERT ... ON CONFLICT`` for the two databases we support.

SQLite (>= 3.24) and PostgreSQL share the ``ON CONFLICT`` syntax, but SQLAlchemy builds it
through each dialect's own ``insert``; this picks the right one for a connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, String, Table
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


def fit(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with strings cut to their column's length: PostgreSQL refuses a longer
    value (SQLite does not), and one long label (a 300-character service name) must not make
    a write, and with it the whole batch, fail.

    >>> from sqlalchemy import Column, MetaData
    >>> t = Table("t", MetaData(), Column("name", String(3)))
    >>> fit(t, {"name": "abcdef", "other": 1})
    {'name': 'abc', 'other': 1}
    """
    out = dict(values)
    for name, value in values.items():
        column = table.c.get(name)
        if (isinstance(value, str) and column is not None and isinstance(column.type, String)
                and column.type.length is not None and len(value) > column.type.length):
            out[name] = value[:column.type.length]
    return out
