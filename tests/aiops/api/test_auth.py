"""The access policy over every route of the real application, enumerated from its OpenAPI
spec: a mutating route added without the write credential fails here."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

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

WRITE = {"authorization": "Bearer w-s3cret"}
READ = {"authorization": "Bearer r-s3cret"}
BASIC = {"authorization": "Basic " + base64.b64encode(b"am:pw").decode()}
OPEN = {"/healthz", "/readyz"}
MUTATING = {"post", "put", "patch", "delete"}


def _client(tmp_path: Path, **api: Any) -> TestClient:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    deps = ApiDeps(ApiSettings(publish_timeout_s=0.5, **api), Store(create_engine(url)),
                   EventProducer(KafkaConfig("127.0.0.1:9")), Topics(),
                   Telemetry(CollectorRegistry()))
    return TestClient(create_api(deps))


def _operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, item in spec["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        if "{change}" in path:  # an enum path parameter: take each value
            concrete = concrete.rsplit("/", 1)[0]
            out += [(m, f"{concrete}/{c}") for m in item for c in ("acknowledge", "resolve")]
            continue
        out += [(method, concrete) for method in item]
    return out


@pytest.fixture
def locked(tmp_path: Path) -> TestClient:
    return _client(tmp_path, bearer_token="w-s3cret", read_token="r-s3cret",
                   basic_username="am", basic_password="pw")


def test_the_spec_lists_the_routes_that_matter(locked: TestClient) -> None:
    ops = set(_operations(locked))
    for expected in [("put", "/api/v1/remediation/kill-switch"),
                     ("post", "/api/v1/learning/enable"),
                     ("post", "/api/v1/approvals/x/approve"),
                     ("post", "/api/v1/approvals/x/reject"),
                     ("post", "/api/v1/incidents/x/acknowledge"),
                     ("post", "/api/v1/topology/updates"),
                     ("delete", "/api/v1/silences/x"),
                     ("post", "/api/v1/alerts/alertmanager"),
                     ("get", "/metrics")]:
        assert expected in ops


def test_every_mutating_route_needs_the_write_credential(locked: TestClient) -> None:
    mutating = [(m, p) for m, p in _operations(locked) if m in MUTATING]
    assert len(mutating) >= 10
    for method, path in mutating:
        for headers, code in (({}, 401), ({"authorization": "Bearer nope"}, 401), (READ, 403)):
            response = locked.request(method, path, json={}, headers=headers)
            assert response.status_code == code, (method, path, headers, response.text)
            assert response.json()["detail"].startswith(
                "unauthorized" if code == 401 else "forbidden")
        for headers in (WRITE, BASIC):
            response = locked.request(method, path, json={}, headers=headers)
            assert response.status_code not in (401, 403, 500), (method, path, response.text)
    # The kill switch was not switched by any of the refused calls.
    state = locked.get("/api/v1/remediation/kill-switch", headers=READ).json()
    assert state.get("enabled") is not True


def test_every_read_route_needs_a_read_credential_when_one_is_set(locked: TestClient) -> None:
    reads = [(m, p) for m, p in _operations(locked) if m not in MUTATING]
    assert ("get", "/api/v1/incidents") in reads
    for method, path in reads:
        anonymous = locked.request(method, path)
        if path in OPEN:
            assert anonymous.status_code in (200, 503), path
            continue
        assert anonymous.status_code == 401, (path, anonymous.text)
        assert "Bearer" in anonymous.headers["www-authenticate"]
        for headers in (READ, WRITE, BASIC):
            assert locked.request(method, path, headers=headers).status_code in (200, 404), path


def test_reads_stay_open_without_a_read_credential(tmp_path: Path) -> None:
    client = _client(tmp_path, bearer_token="w-s3cret")
    assert client.get("/api/v1/incidents").status_code == 200
    assert client.get("/metrics").status_code == 200
    refused = client.put("/api/v1/remediation/kill-switch", json={"enabled": True})
    assert refused.status_code == 401
    switched = client.put("/api/v1/remediation/kill-switch",
                          json={"enabled": True, "actor": "ops"}, headers=WRITE)
    assert switched.status_code == 200 and switched.json()["enabled"] is True


def test_nothing_configured_is_the_open_loopback_default(tmp_path: Path) -> None:
    client = _client(tmp_path)
    assert client.post("/api/v1/learning/enable",
                       json={"signature": "s", "action": "a"}).status_code == 200


def test_a_read_token_alone_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="no write credential"):
        ApiSettings(read_token="r")


def test_topology_updates_honour_the_body_limit(tmp_path: Path) -> None:
    client = _client(tmp_path, max_body_bytes=1000)
    big = {"op": "replace", "topology": {"services": [{"name": "s" * 2000}]}}
    response = client.post("/api/v1/topology/updates", json=big)
    assert response.status_code == 413, response.text


def test_the_spec_declares_the_credentials(locked: TestClient) -> None:
    spec = locked.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "basic"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert ("security" in operation) == (path not in OPEN), (method, path)


def test_credentials_are_checked_before_the_body_or_the_route(locked: TestClient) -> None:
    bad_json = {"content-type": "application/json"}
    for method, path in (("put", "/api/v1/remediation/kill-switch"),
                         ("post", "/api/v1/learning/enable"), ("post", "/api/v1/nowhere")):
        response = locked.request(method, path, content=b"{not json", headers=bad_json)
        assert response.status_code == 401, (path, response.text)
    assert locked.get("/api/v1/nowhere").status_code == 401
    assert locked.get("/api/v1/nowhere", headers=READ).status_code == 404
    assert locked.get("/openapi.json").status_code == 200
