"""Every storage test runs twice: on a SQLite file and on the real PostgreSQL.

PostgreSQL tests each get a fresh schema (selected through ``search_path`` in the URL), so
parallel runs and other test suites using the same ``test`` database never see each other's
rows. Override the server with ``AIOPS_TEST_POSTGRES_URL``; deselect with ``-m "not postgres"``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from aiops.model import Alert, AlertStatus, Incident, IncidentStatus, RootCause, TimelineEntry
from aiops.storage import Store, create_engine, normalize_url
from aiops.storage.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "AIOPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# 2026-11-23T00:00:00Z; times in tests are whole milliseconds, the incident document's
# precision (RFC 3339 with milliseconds), so a read returns exactly what was written.
T0 = 1_795_392_000.0


def _admin_engine() -> sa.Engine:
    return sa.create_engine(normalize_url(POSTGRES_URL), poolclass=NullPool)


@pytest.fixture
def postgres_url() -> str:
    """The shared PostgreSQL test database itself (only for tests that create nothing)."""
    return POSTGRES_URL


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/aiops.db"
        return
    schema = f"aiops_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc.orig}); "
            "start it or deselect these tests with -m 'not postgres'"
        )
    url = normalize_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A migrated database."""
    upgrade(db_url)
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@dataclass
class FakeClock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: sa.Engine, clock: FakeClock) -> Store:
    return Store(engine, clock=clock)


def _alert(
    service: str,
    name: str = "HighLatency",
    *,
    starts_at: float = T0,
    ends_at: float | None = None,
    status: str = "firing",
) -> Alert:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return Alert(
        labels=labels,
        annotations={"summary": f"{name} on {service}", "score": "0.93"},
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url="http://prometheus:9090/graph?g0.expr=up",
        status=AlertStatus(status),
    )


@pytest.fixture
def make_alert() -> Callable[..., Alert]:
    return _alert


def _incident(
    incident_id: str = "inc-1",
    *,
    version: int = 1,
    status: IncidentStatus = IncidentStatus.OPEN,
    services: tuple[str, ...] = ("checkout", "payments"),
    severity: str = "critical",
    opened_at: float = T0,
    alerts: tuple[Alert, ...] | None = None,
) -> Incident:
    if alerts is None:
        alerts = tuple(_alert(s, starts_at=opened_at) for s in services)
    timeline = [TimelineEntry(ts=opened_at, event="opened", status=IncidentStatus.OPEN)]
    if status is not IncidentStatus.OPEN:
        timeline.append(
            TimelineEntry(
                ts=opened_at + 60.125,
                event=status.value,
                status=status,
                actor="alice",
                note="looking into it",
            )
        )
    return Incident(
        id=incident_id,
        status=status,
        title=f"{services[0]} degraded",
        severity=severity,
        opened_at=opened_at,
        updated_at=opened_at + 60.125 * (version - 1),
        alerts=alerts,
        services=services,
        root_causes=(
            RootCause(service=services[-1], score=0.875, evidence=("latency z=6.1", "errors")),
            RootCause(service=services[0], score=0.25),
        ),
        timeline=tuple(timeline),
        resolved_at=opened_at + 300.5 if status is IncidentStatus.RESOLVED else None,
        version=version,
    )


@pytest.fixture
def make_incident() -> Callable[..., Incident]:
    return _incident
