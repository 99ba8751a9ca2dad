from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from aiops.storage import StorageUnavailableError, Store, create_engine, normalize_url
from aiops.storage.engine import SQLITE_BUSY_TIMEOUT_MS


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u:p@db:5432/aiops", "postgresql+psycopg"),
        ("postgres://u@db/aiops", "postgresql+psycopg"),
        ("postgresql+psycopg://u@db/aiops", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_postgres_urls_use_psycopg3(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


def test_rewrite_keeps_the_password() -> None:
    url = normalize_url("postgresql://u:s%40cret@db/aiops")
    assert url.password == "s@cret"


def test_sqlite_file_gets_wal_foreign_keys_and_busy_timeout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path}/nested/dir/aiops.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    assert (tmp_path / "nested" / "dir" / "aiops.db").exists()
    engine.dispose()


def test_sqlite_reader_is_not_blocked_by_an_open_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path}/aiops.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    writer = engine.connect()
    writer.begin()
    writer.exec_driver_sql("INSERT INTO t VALUES (1)")
    result: list[int] = []
    reader = threading.Thread(
        target=lambda: result.append(
            engine.connect().exec_driver_sql("SELECT count(*) FROM t").scalar_one()
        )
    )
    reader.start()
    reader.join(timeout=5)
    assert result == [0]  # WAL: the reader sees the last commit and does not wait
    writer.commit()
    writer.close()
    engine.dispose()


@pytest.mark.postgres
def test_plain_postgresql_url_connects_with_psycopg3(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    assert plain.startswith("postgresql://")
    engine = create_engine(plain)
    with engine.connect() as conn:
        assert engine.dialect.driver == "psycopg"
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    engine.dispose()


def test_ping_answers_on_a_live_database(store: Store) -> None:
    store.ping()


def test_ping_raises_a_storage_error_when_the_server_is_down() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    engine = create_engine("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    with pytest.raises(StorageUnavailableError) as err:
        Store(engine).ping()
    assert err.value.backend == "postgresql"
    assert err.value.reason
