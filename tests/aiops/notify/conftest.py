from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from aiops.model import Alert, Incident, IncidentStatus, RootCause
from aiops.storage import Store, create_engine
from aiops.storage.migrate import upgrade
from tests.aiops.notify.fakes import FakeServices, start_fake

T0 = 1_795_392_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Store:
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    upgrade(url)
    return Store(create_engine(url), clock=clock)


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    services, server = start_fake()
    yield services
    server.shutdown()
    server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as c:
        yield c


def make_incident(
    incident_id: str = "inc-1",
    status: IncidentStatus = IncidentStatus.OPEN,
    *,
    version: int = 1,
    severity: str = "critical",
    services: tuple[str, ...] = ("checkout", "payments"),
    team: str = "shop",
) -> Incident:
    alerts = tuple(
        Alert(labels={"alertname": "HighLatency", "service": s, "team": team,
                      "severity": severity}, annotations={}, starts_at=T0)
        for s in services
    )
    return Incident(
        id=incident_id, status=status, title=f"{services[0]} degraded", severity=severity,
        opened_at=T0, updated_at=T0 + version, alerts=alerts, services=services,
        root_causes=(RootCause(services[-1], 0.875, ("latency z=6.1", "errors x3")),
                     RootCause(services[0], 0.25)),
        version=version,
    )
