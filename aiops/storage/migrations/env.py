"""Alembic environment: the URL (or an open connection) comes from the Config object.

:mod:`aiops.storage.migrate` builds that Config in code, so no ``alembic.ini`` is needed at
run time. For ``alembic`` on the command line, pass ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from aiops.storage.engine import create_engine, normalize_url
from aiops.storage.tables import metadata


def _url() -> str:
    config = context.config
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL: pass Config.attributes['url'] or -x url=...")
    return str(url)


#: pg_advisory_xact_lock key that serialises concurrent upgrades (any constant will do).
PG_MIGRATION_LOCK = 0x41494F5053  # "AIOPS"


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Workers migrate on start; the lock makes the 2nd..nth wait for the first and
            # then find the schema at head (READ COMMITTED reads the committed version).
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
            )
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        context.configure(
            url=normalize_url(_url()),
            target_metadata=metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
    finally:
        engine.dispose()


# Alembic executes this file with its context established; a plain import (doctest
# collection, tooling) finds no context and must do nothing.
if getattr(context, "config", None) is not None:
    run()
