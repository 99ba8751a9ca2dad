"""Schema migrations in code: what ``aiops db upgrade`` and the embedded default call.

The Alembic scripts ship inside the package (``aiops/storage/migrations``), so an installed
wheel can migrate a database without an ``alembic.ini`` or a source checkout.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from aiops.storage.engine import create_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic Config for ``url``; the URL travels in ``attributes``, not in the ini
    options, so a password with ``%`` in it needs no escaping."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (creating the schema if empty).

    Safe to call from several processes at once (every worker does on start): PostgreSQL
    upgrades take an advisory lock (see ``migrations/env.py``), SQLite file upgrades an
    exclusive lock on ``<database>.migrate.lock`` beside the file.
    """
    with _sqlite_file_lock(url):
        command.upgrade(alembic_config(url), revision)


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    parsed = normalize_url(url)
    database = parsed.database or ""
    if (
        parsed.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or (database.startswith("file:"))
    ):
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None if it was never migrated."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this code ships; a database at it matches :data:`metadata`."""
    revision = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return revision
