"""``aiops incidents|silence|topology`` and ``aiops --version`` as a person runs them: the
installed command in a subprocess, against the whole engine on the real local broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from aiops import __version__
from tests.integration.conftest import LiveEngine, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def _run(engine: LiveEngine, *args: str, token: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env["AIOPS_URL"] = engine.url
    if token:
        env["AIOPS_TOKEN"] = engine.token
    return subprocess.run([sys.executable, "-m", "aiops", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def _ok(engine: LiveEngine, *args: str) -> str:
    done = _run(engine, *args)
    assert done.returncode == 0, f"aiops {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_cli_against_a_running_engine(live_engine: LiveEngine) -> None:
    engine = live_engine
    assert _ok(engine, "--version").strip() == f"aiops-engine {__version__}"
    now = datetime.now(UTC)
    alert = {"status": "firing", "labels": {"alertname": "ServiceDown", "service": "ledger",
                                            "severity": "critical"},
             "annotations": {"summary": "ledger down"},
             "startsAt": (now - timedelta(seconds=20)).isoformat().replace("+00:00", "Z")}
    posted = httpx.post(engine.url + "/api/v1/alerts/alertmanager", timeout=10,
                        headers={"Authorization": f"Bearer {engine.token}"},
                        json={"version": "4", "status": "firing", "alerts": [alert]})
    assert posted.status_code == 200, posted.text
    incident = wait_for(lambda: engine.engine.store.list_incidents(service="ledger"), 40,
                        "the incident")[0]

    listed = json.loads(_ok(engine, "incidents", "list", "-o", "json", "--service", "ledger"))
    assert [i["id"] for i in listed] == [incident.id]
    text = _ok(engine, "incidents", "list", "--since", "1h")
    assert text.splitlines()[0].split()[:3] == ["ID", "STATUS", "SEVERITY"]
    assert incident.id in text and "ledger" in text
    shown = _ok(engine, "incidents", "show", incident.id)
    assert "Root causes:" in shown and "1. ledger" in shown and "ServiceDown" in shown

    refused = _run(engine, "incidents", "ack", incident.id, token=False)
    assert refused.returncode != 0 and "HTTP 401" in refused.stderr
    acked = _ok(engine, "incidents", "ack", incident.id, "--actor", "bo", "--note", "on it")
    assert acked.strip().startswith(f"{incident.id}: acknowledged")
    stored = engine.engine.store.get_incident(incident.id)
    assert stored.timeline[-1].actor == "bo" and stored.timeline[-1].note == "on it"
    missing = _run(engine, "incidents", "show", "inc-nope")
    assert missing.returncode != 0 and "HTTP 404" in missing.stderr

    silence_id = _ok(engine, "silence", "add", "alertname=ServiceDown", 'service=~"led.*"',
                     "-d", "2h", "-c", "deploying", "-a", "bo").strip()
    rows = json.loads(_ok(engine, "silence", "query", "-o", "json"))
    assert [s["id"] for s in rows] == [silence_id]
    assert rows[0]["createdBy"] == "bo"
    assert _ok(engine, "silence", "query", "-q", "alertname=ServiceDown").split() == [silence_id]
    table = _ok(engine, "silence", "query")
    assert 'service=~"led.*"' in table and "active" in table
    bad = _run(engine, "silence", "add", "service=", "-c", "x")
    assert bad.returncode != 0 and "HTTP 422" in bad.stderr
    assert _ok(engine, "silence", "expire", silence_id).strip() == f"{silence_id}: expired"
    assert _ok(engine, "silence", "query", "-q").split() == []
    assert _ok(engine, "silence", "query", "-q", "--expired").split() == [silence_id]

    update = httpx.post(engine.url + "/api/v1/topology/updates", timeout=10,
                        headers={"Authorization": f"Bearer {engine.token}"},
                        json={"op": "add_edge", "source": "cli-web", "target": "cli-ledger"})
    assert update.status_code == 202
    graph = json.loads(_ok(engine, "topology", "show", "-o", "json"))
    assert {"source": "cli-web", "target": "cli-ledger"}.items() <= next(
        e for e in graph["edges"] if e["source"] == "cli-web").items()
    assert "cli-ledger" in _ok(engine, "topology", "show")
