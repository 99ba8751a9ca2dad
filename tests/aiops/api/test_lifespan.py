"""The API owns its producer: it is released when the server stops, not left reconnecting."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.settings import ApiSettings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics


def test_the_producer_is_closed_when_the_server_shuts_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    producer = EventProducer(KafkaConfig("127.0.0.1:9"))
    deps = ApiDeps(ApiSettings(publish_timeout_s=0.5), Store(create_engine(url)), producer,
                   Topics(), Telemetry(CollectorRegistry()))
    with TestClient(create_api(deps)) as client:
        assert client.get("/healthz").status_code == 200
        assert not producer.closed
    assert producer.closed
