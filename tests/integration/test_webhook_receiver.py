"""The Alertmanager webhook receiver's contract, over HTTP, on the real local broker.

Alertmanager retries on 5xx and never on 4xx; these tests pin which answer each kind of
request gets: 401 (credentials as http_config sends them), 413, 400, 422, 503, 200.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiops.app import Engine
from aiops.settings import Settings
from aiops.wire.shapes import decode_alert
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.topics import Topics
from tests.support.kafka import read_topic

pytestmark = pytest.mark.broker

PATH = "/api/v1/alerts/alertmanager"


def payload(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "version": "4", "groupKey": '{}:{alertname="X"}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "aiops", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": [{
            "status": "firing", "labels": {"alertname": "X", "service": "cart"},
            "annotations": {}, "startsAt": "2026-11-23T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "00aa11bb22cc33dd",
        }],
    }
    body.update(changes)
    return body


@pytest.fixture
def engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[Engine]:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'aiops.db'}"
    for name in ("metrics", "logs", "alerts", "incidents", "actions", "dlq"):
        setattr(settings.topics, name, getattr(topics, name))
    settings.api.bearer_token = "t0ken"
    settings.api.basic_username = "alertmanager"
    settings.api.basic_password = "pa:ss"
    settings.api.max_body_bytes = 4096
    eng = Engine.build(settings, broker)
    eng.ensure_topics()
    yield eng


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def test_credentials_as_alertmanager_sends_them(engine: Engine) -> None:
    client = TestClient(engine.api())
    ok = [{"authorization": "Bearer t0ken"}, {"authorization": "bearer t0ken"},
          _basic("alertmanager", "pa:ss")]
    for headers in ok:
        response = client.post(PATH, json=payload(), headers=headers)
        assert response.status_code == 200, (headers, response.text)
    refused = {
        "no Authorization header": {},
        "invalid bearer token": {"authorization": "Bearer t0ke"},
        "invalid username or password": _basic("alertmanager", "pa:s"),
        "malformed basic credentials": {"authorization": "Basic !!!"},
        "unsupported authorization scheme": {"authorization": "Digest x"},
    }
    for reason, headers in refused.items():
        response = client.post(PATH, json=payload(), headers=headers)
        assert response.status_code == 401, reason
        assert reason in response.json()["detail"]
        challenge = response.headers["www-authenticate"]
        assert "Bearer" in challenge and "Basic" in challenge
    assert 'aiops_receiver_rejected_total{code="401",receiver="alertmanager"} 5.0' in \
        client.get("/metrics").text


def test_payload_contract(engine: Engine) -> None:
    client = TestClient(engine.api(), headers={"authorization": "Bearer t0ken"})
    newer = payload(truncatedAlerts=3, someFieldFromANewerRelease={"x": [1]})
    newer["alerts"][0]["someNewAlertField"] = True  # type: ignore[index]
    response = client.post(PATH, json=newer)
    assert response.json() == {"accepted": 1, "truncated": 3}
    resolved = payload(status="resolved")
    resolved["alerts"][0].update(status="resolved",  # type: ignore[index]
                                 endsAt="2026-11-23T10:05:00.123456789Z")
    assert client.post(PATH, json=resolved).status_code == 200
    alerts = [decode_alert(v) for _, v in read_topic(engine.kafka, engine.topics.alerts,
                                                    expect=2)]
    assert [a.status.value for a in alerts] == ["firing", "resolved"]
    assert {a.fingerprint for a in alerts} == {"00aa11bb22cc33dd"}  # Alertmanager's own
    assert alerts[1].ends_at == pytest.approx(1795428300.123456)

    assert client.post(PATH, json=payload(alerts=[])).json()["accepted"] == 0
    for body, needle in [
        (payload(version="3"), "version"),
        (payload(alerts={"a": 1}), "alerts"),
        (payload(truncatedAlerts=-1), "truncatedAlerts"),
        (payload(alerts=[{"labels": {}}]), "alerts[0]"),
        (["not", "an", "object"], "JSON object"),
    ]:
        response = client.post(PATH, json=body)
        assert response.status_code == 422 and needle in response.json()["detail"], body
    bad = client.post(PATH, content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 400


def test_body_limit(engine: Engine) -> None:
    client = TestClient(engine.api(), headers={"authorization": "Bearer t0ken"})
    big = payload(commonAnnotations={"x": "y" * 5000})
    assert client.post(PATH, json=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: cut off while streaming
        yield b'{"version": "4", "alerts": [], "pad": "'
        for _ in range(10):
            yield b"z" * 1000
        yield b'"}'

    assert client.post(PATH, content=chunks()).status_code == 413


def test_503_so_alertmanager_retries(engine: Engine) -> None:
    dead = EventProducer(KafkaConfig(bootstrap_servers="127.0.0.1:1"),
                         overrides={"message.timeout.ms": 1500, "log_level": 0})
    engine.settings.api.publish_timeout_s = 1.0
    client = TestClient(engine.api(producer=dead), headers={"authorization": "Bearer t0ken"})
    response = client.post(PATH, json=payload())
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
