"""Incident queries through the HTTP API, on a real SQLite store (no broker needed)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.model import Alert, Incident, IncidentStatus, RootCause
from aiops.settings import ApiSettings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics


def _incident(ident: str, opened: float, status: IncidentStatus, service: str) -> Incident:
    alert = Alert({"alertname": "X", "service": service}, {}, opened)
    return Incident(id=ident, status=status, title=ident, severity="critical",
                    opened_at=opened, updated_at=opened, alerts=(alert,), services=(service,),
                    root_causes=(RootCause(service, 0.9, ("because",)),))


def test_filters_and_refusals(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    store = Store(create_engine(url))
    store.save_incident(_incident("a", 1_790_000_000.0, IncidentStatus.OPEN, "cart"))
    store.save_incident(_incident("b", 1_790_003_600.0, IncidentStatus.RESOLVED, "web"))
    api = create_api(ApiDeps(ApiSettings(bearer_token="t0k"), store,
                             EventProducer(KafkaConfig("127.0.0.1:9")), Topics(),
                             Telemetry(CollectorRegistry())))
    client = TestClient(api)

    def ids(**params: object) -> list[str]:
        response = client.get("/api/v1/incidents", params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["incidents"]]

    assert ids() == ["b", "a"]  # newest first
    assert ids(status="open") == ["a"]
    assert ids(service="web") == ["b"]
    assert ids(since="1790001000") == ["b"]
    assert ids(until="2026-09-21T15:00:00Z") == ["a"]
    assert client.get("/api/v1/incidents", params={"since": "yesterday"}).status_code == 422
    assert client.get("/api/v1/incidents", params={"status": "sleeping"}).status_code == 422
    # Changing an incident needs the receivers' credentials when they are configured.
    assert client.post("/api/v1/incidents/a/acknowledge").status_code == 401
    assert client.get("/openapi.json").json()["info"]["title"] == "AIOps engine"
