"""``POST /api/v1/detection/accept``: refusals, and end to end on the real local broker (API
-> every metrics partition -> detect worker, which resolves the lasting alert it holds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.app import Engine, Workers
from aiops.settings import ApiSettings, Settings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from aiops.wire.shapes import decode_alert
from streams.kafka import KafkaConfig
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.aiops.detect_data import scrapes
from tests.support.kafka import read_topic
from tests.support.polling import eventually


def _offline_client(tmp_path: Path, **api: str) -> TestClient:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    deps = ApiDeps(ApiSettings(publish_timeout_s=1.0, **api), Store(create_engine(url)),
                   EventProducer(KafkaConfig("127.0.0.1:9")), Topics(),
                   Telemetry(CollectorRegistry()))
    return TestClient(create_api(deps))


@pytest.mark.parametrize(("body", "reason"), [
    ({}, "'matchers' must be a non-empty list"),
    ({"matchers": ["service ~ db"]}, "cannot parse matcher"),
    ({"matchers": ['service=~".*"']}, "must not match the empty string"),
    ({"matchers": ["service=db"], "actor": 3}, "must be strings"),
    (["service=db"], "JSON object"),
])
def test_bad_selectors_are_refused_with_the_reason(tmp_path: Path, body: object,
                                                   reason: str) -> None:
    client = _offline_client(tmp_path)
    response = client.post("/api/v1/detection/accept", json=body)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


def test_accept_needs_the_write_credential(tmp_path: Path) -> None:
    client = _offline_client(tmp_path, bearer_token="t0k")
    body = {"matchers": ["service=db"]}
    assert client.post("/api/v1/detection/accept", json=body).status_code == 401
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/api/v1/detection/accept", json=body, headers=bad).status_code == 401
    # the right credential, but no broker to take the command
    ok = {"Authorization": "Bearer t0k"}
    assert client.post("/api/v1/detection/accept", json=body, headers=ok).status_code == 503


@pytest.mark.broker
def test_an_accepted_level_resolves_its_alert_in_the_detect_worker(
    tmp_path: Path, topics: Topics, broker: str, kafka: KafkaConfig
) -> None:
    settings = Settings.load(None)
    settings.kafka.bootstrap_servers = broker
    settings.kafka.group_prefix = topics.metrics
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    settings.api.bearer_token = "t0k"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    workers = Workers([eng.runner("detect")])
    workers.start()
    try:
        assert workers.wait_ready(60)
        producer = EventProducer(kafka)
        data = scrapes(400, spike_at=10_000, shift_at=300)  # pay's request rate triples
        producer.publish([Record(topics.metrics, s.encode(), v) for s, _, v in data])

        def alerts() -> list:  # type: ignore[type-arg]
            return [decode_alert(v) for _, v in
                    read_topic(kafka, topics.alerts, expect=1000, timeout=6)]

        fired = eventually(lambda: [a for a in alerts() if a.status.value == "firing"], 60)
        assert fired and {a.labels["service"] for a in fired} == {"pay"}
        assert not [a for a in alerts() if a.status.value == "resolved"]  # it lasts

        client = TestClient(eng.api(producer))
        response = client.post("/api/v1/detection/accept",
                               json={"matchers": ['__name__="requests_total"',
                                                  'service="pay"'],
                                     "actor": "ana", "note": "three times the traffic"},
                               headers={"Authorization": "Bearer t0k"})
        assert response.status_code == 202, response.text
        assert response.json()["partitions"] == topics.data_partitions

        resolved = eventually(lambda: [a for a in alerts() if a.status.value == "resolved"],
                              30)
        assert resolved and resolved[0].fingerprint == fired[0].fingerprint
        assert resolved[0].annotations["resolution"] == (
            "accepted by ana: three times the traffic")
    finally:
        workers.stop()
    assert not workers.errors
