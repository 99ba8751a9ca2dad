from __future__ import annotations

from importlib import resources

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from aiops.storage import create_engine, metadata
from aiops.storage.migrate import current, head, upgrade

TABLES = {
    "alerts",
    "incidents",
    "incident_alerts",
    "incident_services",
    "incident_timeline",
    "remediation_actions",
    "outbox",
}


def test_upgrade_from_empty_creates_every_table(db_url: str) -> None:
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == head()
    engine = create_engine(db_url)
    assert set(sa.inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_upgrade_is_idempotent(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)
    assert current(db_url) == head()


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_removes_the_schema(db_url: str) -> None:
    from alembic import command

    from aiops.storage.migrate import alembic_config

    upgrade(db_url)
    command.downgrade(alembic_config(db_url), "base")
    assert current(db_url) is None
    engine = create_engine(db_url)
    assert not TABLES & set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_are_packages_so_wheels_ship_them() -> None:
    """find-packages ships ``.py`` files of packages only; the Mako template is package data."""
    migrations = resources.files("aiops.storage.migrations")
    assert migrations.joinpath("__init__.py").is_file()
    assert migrations.joinpath("env.py").is_file()
    assert migrations.joinpath("script.py.mako").is_file()
    versions = migrations.joinpath("versions")
    assert versions.joinpath("__init__.py").is_file()
    assert versions.joinpath("0001_initial.py").is_file()
