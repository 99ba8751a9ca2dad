"""Bad values at the HTTP edge, on the real broker and both stores: a 4xx with the reason,
never a 500 (Alertmanager and Prometheus retry a 500 for ever)."""

from __future__ import annotations

from collections.abc import Callable

import cramjam
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from aiops.wire.remote_write import encode_write_request

NOW = "2026-11-23T10:00:00Z"


def _webhook(**alert: object) -> dict[str, object]:
    return {"version": "4", "alerts": [{"labels": {"alertname": "X", "service": "cart"},
                                        "startsAt": NOW, **alert}]}


@pytest.fixture
def client(real_api: Callable[..., FastAPI]) -> TestClient:
    return TestClient(real_api(max_record_bytes=512 * 1024), raise_server_exceptions=False)


def test_a_good_alert_is_accepted(client: TestClient) -> None:
    response = client.post("/api/v1/alerts/alertmanager", json=_webhook())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("alert", "code", "reason"), [
    ({"startsAt": 1e300}, 422, "out of range"),
    ({"startsAt": -1e300}, 422, "out of range"),
    ({"endsAt": 1e300}, 422, "out of range"),
    ({"startsAt": "NaN"}, 422, "not RFC 3339"),
    ({"startsAt": "99999-01-01T00:00:00Z"}, 422, "not RFC 3339"),
    # the alert decoder's label budget (64 KiB) is met before the record limit (512 KiB)
    ({"labels": {"alertname": "X", "service": "x" * 1_000_000}}, 422, "more than 65536"),
    ({"labels": {"alertname": "X", "service": "x" * 5_000_000}}, 422, "more than 65536"),
    ({"labels": {"alertname": "X\x00", "service": "cart"}}, 422, "NUL"),
])
def test_bad_alerts_are_refused_with_the_reason(client: TestClient, alert: dict[str, object],
                                                code: int, reason: str) -> None:
    response = client.post("/api/v1/alerts/alertmanager", json=_webhook(**alert))
    assert response.status_code == code, response.text
    assert reason in response.json()["detail"]


@pytest.mark.parametrize("body", [
    b'{"version": "4", "alerts": [{"labels": {"a": "b"}, "startsAt": NaN}]}',
    b'{"version": "4", "alerts": [{"labels": {"a": "b"}, "startsAt": 1e400}]}',
    b'{"version": "4", "truncatedAlerts": 100000000000000000000000000000, "alerts": []}',
    b'{"version": "4", "alerts": [{"labels": {"a": "b"}, "startsAt": Infinity}]}',
])
def test_non_numbers_and_huge_numbers_are_4xx(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/alerts/alertmanager", content=body,
                           headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(("params", "code"), [
    ({"service": "cart\x00"}, 400),
    ({"severity": "\x00"}, 400),
    ({"since": "1e300"}, 422),
    ({"until": "-1e300"}, 422),
    ({"since": "nan"}, 422),
    ({"since": "inf"}, 422),
    ({"offset": str(10**30)}, 422),
    ({"limit": str(10**30)}, 422),
])
def test_incident_filters_refuse_bad_values(client: TestClient, params: dict[str, str],
                                            code: int) -> None:
    response = client.get("/api/v1/incidents", params=params)
    assert response.status_code == code, response.text
    assert client.get("/api/v1/incidents", params={"service": "cart"}).status_code == 200


def test_nul_in_a_path_and_long_names_are_refused(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/a%00b").status_code == 400
    assert client.get("/api/v1/silences/a%00b").status_code == 400
    long = client.put("/api/v1/remediation/kill-switch", json={"enabled": False,
                                                                "actor": "a" * 300})
    assert long.status_code == 422
    nul = client.post("/api/v1/learning/enable", json={"signature": "s\x00", "action": "a"})
    assert nul.status_code == 422 and "NUL" in nul.text
    assert client.post("/api/v1/silences", json={
        "matchers": ["service=db"], "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "x" * 300}).status_code == 422
    assert client.post("/api/v1/silences", json={
        "matchers": ["service=db"], "endsAt": 1e300}).status_code == 422


def _remote_write(client: TestClient, labels: dict[str, str], ts_ms: int) -> int:
    body = cramjam.snappy.compress_raw(encode_write_request([(labels, [(1.0, ts_ms)])]))
    response = client.post("/api/v1/write", content=bytes(body), headers={
        "content-type": "application/x-protobuf", "content-encoding": "snappy"})
    return response.status_code


def test_remote_write_refuses_huge_labels_and_drops_impossible_times(client: TestClient
                                                                      ) -> None:
    assert _remote_write(client, {"__name__": "up", "job": "cart"}, 1_790_000_000_000) == 204
    for size in (1_000_000, 5_000_000):
        code = _remote_write(client, {"__name__": "up", "job": "x" * size}, 1_790_000_000_000)
        assert code == 413
    assert _remote_write(client, {"__name__": "up", "job": "cart"}, 2**62) == 204
    metrics = client.get("/metrics").text
    assert 'aiops_remote_write_dropped_samples_total{reason="time_out_of_range"} 1.0' in metrics
