"""Silences through the HTTP API: refusals, and end to end on the real local broker (API ->
alerts topic -> correlate worker) with alerts sent through the Alertmanager receiver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.app import STAGES, Engine, Workers
from aiops.settings import ApiSettings, Settings
from aiops.storage.engine import create_engine
from aiops.storage.migrate import upgrade
from aiops.storage.repository import Store
from aiops.telemetry import Telemetry
from aiops.wire.shapes import dumps
from aiops.wire.timefmt import format_time
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics
from tests.support.polling import eventually


def _offline_client(tmp_path: Path, **api: Any) -> TestClient:
    """The API over a real SQLite store and a producer with no broker behind it."""
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    deps = ApiDeps(ApiSettings(publish_timeout_s=1.0, **api), Store(create_engine(url)),
                   EventProducer(KafkaConfig("127.0.0.1:9")), Topics(),
                   Telemetry(CollectorRegistry()))
    return TestClient(create_api(deps))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"endsAt": "2099-01-01T00:00:00Z"}, "'matchers' must be a non-empty list"),
        ({"matchers": [], "endsAt": "2099-01-01T00:00:00Z"}, "non-empty"),
        ({"matchers": ["service ~ db"], "endsAt": "2099-01-01T00:00:00Z"},
         "cannot parse matcher"),
        ({"matchers": ['service=~"db-(.*"'], "endsAt": "2099-01-01T00:00:00Z"}, "bad regex"),
        ({"matchers": [{"name": "1bad", "value": "x"}], "endsAt": "2099-01-01T00:00:00Z"},
         "not a valid label name"),
        ({"matchers": [{"name": "service", "value": 3}], "endsAt": "2099-01-01T00:00:00Z"},
         "must be strings"),
        ({"matchers": ['service=~".*"'], "endsAt": "2099-01-01T00:00:00Z"},
         "must not match the empty string"),
        ({"matchers": ["service=db"]}, "'endsAt' is required"),
        ({"matchers": ["service=db"], "endsAt": "tomorrow"}, "not RFC 3339"),
        ({"matchers": ["service=db"], "startsAt": "2099-01-02T00:00:00Z",
          "endsAt": "2099-01-01T00:00:00Z"}, "'endsAt' must be after 'startsAt'"),
        ({"matchers": ["service=db"], "startsAt": "2019-01-01T00:00:00Z",
          "endsAt": "2020-01-01T00:00:00Z"}, "in the past"),
        (["service=db"], "JSON object"),
    ],
)
def test_invalid_silences_are_refused_with_the_reason(
    tmp_path: Path, body: object, reason: str
) -> None:
    client = _offline_client(tmp_path)
    response = client.post("/api/v1/silences", json=body)
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    assert client.get("/api/v1/silences", params={"expired": True}).json() == {"silences": []}


def test_unknown_silences_and_credentials(tmp_path: Path) -> None:
    client = _offline_client(tmp_path, bearer_token="t0k")
    auth = {"Authorization": "Bearer t0k"}
    assert client.get("/api/v1/silences/nope").status_code == 404
    assert client.delete("/api/v1/silences/nope", headers=auth).status_code == 404
    assert client.delete("/api/v1/silences/nope").status_code == 401
    body = {"matchers": ["service=db"], "endsAt": "2099-01-01T00:00:00Z"}
    assert client.post("/api/v1/silences", json=body).status_code == 401
    # With no broker to take it, a new silence is refused and not kept.
    refused = client.post("/api/v1/silences", json=body, headers=auth)
    assert refused.status_code == 503
    assert client.get("/api/v1/silences", params={"expired": True}).json() == {"silences": []}


# ---------------------------------------------------------------------- end to end

TOPOLOGY = {
    "services": [{"name": n} for n in ("checkout", "payments", "db-main", "db-replica")],
    "edges": [{"source": "checkout", "target": "payments"}],
}


@pytest.fixture
def engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[tuple[Engine, Workers]]:
    topology = tmp_path / "topology.json"
    topology.write_bytes(dumps(TOPOLOGY))
    settings = Settings.load(None)
    settings.kafka.bootstrap_servers = broker
    settings.kafka.group_prefix = topics.metrics  # unique consumer groups per test
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    settings.correlation.topology_file = str(topology)
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    workers = Workers([eng.runner(name) for name in STAGES])
    workers.start()
    assert workers.wait_ready(60)
    yield eng, workers
    workers.stop()
    assert not workers.errors




def _webhook(*alerts: tuple[str, str, str, float]) -> dict[str, Any]:
    """Alertmanager's payload for (fingerprint, alertname, service, startsAt) alerts."""
    return {
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing",
        "receiver": "aiops", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {"status": "firing",
             "labels": {"alertname": name, "service": service, "severity": "critical"},
             "annotations": {}, "startsAt": format_time(ts), "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": fp}
            for fp, name, service, ts in alerts
        ],
    }


@pytest.mark.broker
def test_a_silence_made_through_the_api_keeps_matching_alerts_out_of_incidents(
    engine: tuple[Engine, Workers], tmp_path: Path
) -> None:
    eng, _ = engine
    client = TestClient(eng.api())
    now = time.time()
    created = client.post("/api/v1/silences", json={
        "matchers": ['service=~"db-.*"',
                     {"name": "severity", "value": "critical", "isRegex": False,
                      "isEqual": True}],
        "endsAt": format_time(now + 3600), "createdBy": "alice", "comment": "db maintenance",
    })
    assert created.status_code == 201, created.text
    silence_id = created.json()["silenceID"]
    assert created.json()["id"] == silence_id
    assert created.json()["status"] == {"state": "active"}
    listed = client.get("/api/v1/silences").json()["silences"]
    assert [(s["id"], s["createdBy"], s["comment"]) for s in listed] == [
        (silence_id, "alice", "db maintenance")]
    assert listed[0]["matchers"][0] == {"name": "service", "value": "db-.*", "isRegex": True,
                                        "isEqual": True}

    sent = client.post("/api/v1/alerts/alertmanager", json=_webhook(
        ("00000000000000d1", "DatabaseDown", "db-main", now + 1),
        ("00000000000000d2", "ReplicaDown", "db-replica", now + 2),
        ("00000000000000c1", "CheckoutDown", "checkout", now + 3),
    ))
    assert sent.status_code == 200, sent.text
    # The non-matching alert opens an incident; it was behind the silenced ones on the
    # topic, so once it is stored they have been handled too.
    incidents = eventually(lambda: eng.store.list_incidents())
    assert [i.services for i in incidents] == [("checkout",)]
    assert eng.store.incident_for_alert("00000000000000d1") is None
    assert eng.store.incident_for_alert("00000000000000d2") is None

    # The silence is in the store: a correlate stage starting now puts it in force.
    fresh = eng.stage("correlate")
    fresh.start()
    assert [s.id for s in fresh._correlator.config.silences] == [silence_id]  # type: ignore[attr-defined]

    expired = client.delete(f"/api/v1/silences/{silence_id}")
    assert expired.status_code == 200 and expired.json()["status"] == {"state": "expired"}
    assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 200  # idempotent
    assert client.get("/api/v1/silences").json() == {"silences": []}
    assert [s["id"] for s in client.get("/api/v1/silences",
                                        params={"expired": True}).json()["silences"]] == [
        silence_id]

    # The alerts it held back still fire: expiring it puts them through now, without
    # waiting for Alertmanager to repeat them.
    released = eventually(lambda: eng.store.incident_for_alert("00000000000000d1"))
    assert released is not None, "expiring the silence did not re-evaluate its alerts"
    assert "db-main" in released.services

    later = time.time()
    sent = client.post("/api/v1/alerts/alertmanager", json=_webhook(
        ("00000000000000d3", "DatabaseUnavailable", "db-main", later + 1)))
    assert sent.status_code == 200
    opened = eventually(lambda: eng.store.incident_for_alert("00000000000000d3"))
    assert opened is not None, "the alert after the silence expired opened no incident"
    assert "db-main" in opened.services
    assert eng.store.incident_for_alert("00000000000000c1") not in (None, opened)
    restarted = eng.stage("correlate")
    restarted.start()
    assert restarted._correlator.config.silences == ()  # type: ignore[attr-defined]
