"""Alertmanager's v2 read routes and refusals on a real SQLite store (the write paths with
the real broker, amtool and Prometheus are in tests/integration/test_am_v2.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from aiops.model import Alert, AlertStatus
from aiops.silences import MatcherSpec, SilenceSpec
from aiops.storage.repository import Store
from aiops.storage.silences import SilenceStore


def test_alerts_show_the_silences_that_cover_them(
        store: Store, make_client: Callable[..., TestClient]) -> None:
    now = time.time()
    store.upsert_alerts([
        Alert({"alertname": "DiskFull", "service": "db"}, {"summary": "x"}, now - 60),
        Alert({"alertname": "HighLatency", "service": "web"}, {}, now - 30),
        Alert({"alertname": "Gone", "service": "web"}, {}, now - 90, now - 10,
              status=AlertStatus.RESOLVED),
    ])
    SilenceStore(store.engine).save(SilenceSpec(
        "s-1", (MatcherSpec("service", "db"),), now - 100, now + 3600, "ana", "disk"))
    client = make_client(bearer_token="t")
    alerts = {a["labels"]["alertname"]: a for a in client.get("/api/v2/alerts").json()}
    assert set(alerts) == {"DiskFull", "HighLatency"}  # resolved alerts are not listed
    assert alerts["DiskFull"]["status"] == {"state": "suppressed", "silencedBy": ["s-1"],
                                            "inhibitedBy": []}
    assert alerts["HighLatency"]["status"]["state"] == "active"
    assert alerts["DiskFull"]["fingerprint"] and alerts["DiskFull"]["receivers"]
    only_active = client.get("/api/v2/alerts", params={"silenced": "false"}).json()
    assert [a["labels"]["alertname"] for a in only_active] == ["HighLatency"]
    filtered = client.get("/api/v2/alerts", params={"filter": 'service=~"w.*"'}).json()
    assert [a["labels"]["alertname"] for a in filtered] == ["HighLatency"]
    groups = client.get("/api/v2/alerts/groups").json()
    assert [g["labels"]["alertname"] for g in groups] == ["DiskFull", "HighLatency"]

    silences = client.get("/api/v2/silences").json()
    assert [s["id"] for s in silences] == ["s-1"] and silences[0]["status"]["state"] == "active"
    assert client.get("/api/v2/silences", params={"filter": "service=web"}).json() == []
    assert client.get("/api/v2/silence/s-1").json()["createdBy"] == "ana"
    assert client.get("/api/v2/silence/nope").status_code == 404
    assert client.get("/api/v2/silences", params={"filter": "service=~("}).status_code == 400

    # writes need the credential; bad bodies are Alertmanager's 400 with the reason
    assert client.post("/api/v2/alerts", json=[]).status_code == 401
    assert client.post("/api/v2/silences", json={}).status_code == 401
    assert client.delete("/api/v2/silence/s-1").status_code == 401
    auth = {"Authorization": "Bearer t"}
    bad = client.post("/api/v2/alerts", json={"labels": {}}, headers=auth)
    assert bad.status_code == 400 and "list" in bad.json()
    bad = client.post("/api/v2/alerts", json=[{"labels": {}}], headers=auth)
    assert bad.status_code == 400 and bad.json().startswith("alerts[0]")
    bad = client.post("/api/v2/silences", headers=auth,
                      json={"matchers": [], "endsAt": "2999-01-01T00:00:00Z"})
    assert bad.status_code == 400 and "matchers" in bad.json()
    assert client.get("/api/v2/status").json()["cluster"]["status"] == "disabled"
