"""A console on a real SQLite store; the producer points nowhere (no write reaches a broker)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.console.deps import ConsoleDeps, TopologyView
from aiops.model import Alert, Incident, IncidentStatus, RootCause, TimelineEntry
from aiops.settings import ApiSettings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics

TOPOLOGY = """
services:
  - {name: web}
  - {name: cart}
  - {name: db, kind: database}
  - {name: mail}
edges:
  - {source: web, target: cart}
  - {source: cart, target: db}
  - {source: web, target: mail}
"""


def make_incident(ident: str, opened: float, status: IncidentStatus = IncidentStatus.OPEN,
                  alerts: int = 3) -> Incident:
    members = tuple(
        Alert({"alertname": "HighLatency" if i % 2 else "DBSlow",
               "service": "cart" if i % 2 else "db", "instance": f"{ident}-{i}",
               "severity": "critical", "metric": "latency_ms"},
              {"summary": "slow", "value": str(100 + i), "expected_low": "10",
               "expected_high": "50", "metric": "latency_ms", "score": "0.9"},
              opened + i)
        for i in range(alerts))
    return Incident(
        id=ident, status=status, title=f"{ident}: db slow", severity="critical",
        opened_at=opened, updated_at=opened + alerts, alerts=members, services=("cart", "db"),
        root_causes=(RootCause("db", 0.8, ("db deviated first",)),
                     RootCause("cart", 0.2, ("calls db",))),
        timeline=(TimelineEntry(opened, "opened", IncidentStatus.OPEN),),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(url)
    return Store(create_engine(url))


@pytest.fixture
def make_client(tmp_path: Path, store: Store) -> Callable[..., TestClient]:
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY)

    def make(**settings: object) -> TestClient:
        api = create_api(
            ApiDeps(ApiSettings(**settings), store, EventProducer(KafkaConfig("127.0.0.1:9")),
                    Topics(), Telemetry(CollectorRegistry())),
            ConsoleDeps(TopologyView(str(topology), None)),
        )
        return TestClient(api)

    return make
