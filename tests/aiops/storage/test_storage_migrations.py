from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import aiops
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


def test_concurrent_upgrades_are_safe(db_url: str) -> None:
    """Every worker process migrates on start; several starting together must not collide."""
    root = Path(aiops.__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    script = "import sys; from aiops.storage.migrate import upgrade; upgrade(sys.argv[1])"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, db_url],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outcomes = []
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        outcomes.append((proc.returncode, err.decode()))
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    assert current(db_url) == head()
