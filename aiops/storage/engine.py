"""Engine factory: one place that knows how SQLite and PostgreSQL must be configured.

SQLite is the embedded default, where the API and the stages share one file: WAL lets readers
go on while a stage writes, the busy timeout makes a second writer wait instead of failing at
once, and foreign keys are off in SQLite unless every connection turns them on. PostgreSQL is
reached through psycopg 3; a bare ``postgresql://`` URL (what most tools print) is rewritten to
that driver so that psycopg2 is never needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

#: How long (milliseconds) a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_PG_ALIASES = {"postgresql", "postgres", "postgresql+psycopg"}


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and point PostgreSQL URLs at the psycopg 3 driver.

    >>> normalize_url("postgresql://u@db:5432/aiops").drivername
    'postgresql+psycopg'
    >>> normalize_url("sqlite:///tmp/aiops.db").drivername
    'sqlite'
    """
    parsed = make_url(url)
    if parsed.drivername in _PG_ALIASES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL + NORMAL is durable across application crashes; only an OS crash can lose
        # the last transactions, which Kafka redelivers because offsets commit after the store.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def create_engine(url: str | URL, *, echo: bool = False) -> sa.Engine:
    """Build an Engine for ``url`` (``sqlite:///path`` or ``postgresql[+psycopg]://...``).

    For a SQLite file ``~`` is expanded and the parent directory is created, so the embedded
    default works on a fresh machine.

    >>> engine = create_engine("sqlite://")
    >>> with engine.connect() as conn:
    ...     conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    1
    """
    parsed = normalize_url(url)
    options: dict[str, Any] = {
        "echo": echo,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            parsed = parsed.set(database=str(path))
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = sa.create_engine(parsed, **options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options["pool_pre_ping"] = True
    return sa.create_engine(parsed, **options)
