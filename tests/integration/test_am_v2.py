"""Alertmanager's API v2 on the engine, used by the real clients: Prometheus 2.42 sends a
firing rule's alert to ``/api/v2/alerts`` with the engine as its Alertmanager, and Debian's
``amtool`` adds, queries and expires a silence and adds an alert."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml

from aiops.model import IncidentStatus
from streams.broker import free_port
from tests.integration.conftest import (
    LiveEngine,
    Program,
    binary,
    load_yaml,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def _amtool(engine: LiveEngine, tmp_path: Path) -> Callable[..., str]:
    exe = binary("amtool")
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(yaml.safe_dump(
        {"authorization": {"type": "Bearer", "credentials": engine.token}}))

    def run(*args: str, check: bool = True) -> str:
        done = subprocess.run(
            [exe, f"--alertmanager.url={engine.url}", f"--http.config.file={http_config}",
             *args], capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise AssertionError(f"amtool {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done.stdout

    return run


def test_amtool_silences_and_alerts(tmp_path: Path, live_engine: LiveEngine) -> None:
    amtool = _amtool(live_engine, tmp_path)
    silence_id = amtool("silence", "add", "alertname=DiskFull", 'service=~"db-.*"',
                        "--author=ana", "--comment=disk swap", "--duration=2h").strip()
    assert silence_id
    stored = httpx.get(f"{live_engine.url}/api/v1/silences/{silence_id}", timeout=10).json()
    assert stored["createdBy"] == "ana" and stored["status"]["state"] == "active"
    assert {(m["name"], m["isRegex"]) for m in stored["matchers"]} == {
        ("alertname", False), ("service", True)}

    listed = json.loads(amtool("silence", "query", "--output=json"))
    assert [s["id"] for s in listed] == [silence_id]
    # as Alertmanager does, filters apply to the silences' matchers read as labels
    assert amtool("silence", "query", "-q", "alertname=DiskFull").split() == [silence_id]
    assert amtool("silence", "query", "-q", "alertname=Other").split() == []

    # a bad matcher is refused with Alertmanager's 400 and the reason
    refused = httpx.post(f"{live_engine.url}/api/v2/silences", timeout=10,
                         headers={"Authorization": f"Bearer {live_engine.token}"},
                         json={"matchers": [{"name": "a", "value": "(", "isRegex": True}],
                               "endsAt": "2999-01-01T00:00:00Z"})
    assert refused.status_code == 400 and "regex" in refused.json().lower()

    amtool("silence", "expire", silence_id)
    assert amtool("silence", "query", "-q").split() == []
    assert amtool("silence", "query", "-q", "--expired").split() == [silence_id]

    # amtool without the credential is refused
    no_auth = subprocess.run(
        [binary("amtool"), f"--alertmanager.url={live_engine.url}", "silence", "add",
         "alertname=X", "--comment=x", "--author=x"], capture_output=True, text=True,
        timeout=30)
    assert no_auth.returncode != 0

    amtool("alert", "add", "alertname=DiskFull", "service=db-main", "severity=critical",
           "--annotation=summary=disk almost full")
    store = live_engine.engine.store

    def opened() -> object:
        return [i for i in store.list_incidents() if i.services == ("db-main",)]

    incidents = wait_for(opened, 40, "an incident for the amtool alert")
    assert incidents[0].alerts[0].name == "DiskFull"
    shown = json.loads(amtool("alert", "query", "--output=json"))
    assert any(a["labels"]["alertname"] == "DiskFull" for a in shown)
    assert "aiops" in amtool("config", "show")  # /api/v2/status in Alertmanager's shape
    status = httpx.get(f"{live_engine.url}/api/v2/status", timeout=10).json()
    assert status["cluster"]["status"] == "disabled" and status["versionInfo"]["version"]


def test_prometheus_sends_rule_alerts_to_the_engine(
        tmp_path: Path, live_engine: LiveEngine,
        start_program: Callable[[str, list[str], str], Program]) -> None:
    exe = binary("prometheus")
    config = load_yaml("prometheus-alerting.yml")
    config["global"].update({"evaluation_interval": "1s", "scrape_interval": "1s"})
    am = config["alerting"]["alertmanagers"][0]
    assert am["authorization"]["credentials"] == live_engine.token
    am["static_configs"][0]["targets"] = [live_engine.url.removeprefix("http://")]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{
        "name": "engine-test", "interval": "1s", "rules": [{
            "alert": "CheckoutDown", "expr": "vector(1) > 0",
            "labels": {"service": "checkout", "severity": "critical"},
            "annotations": {"summary": "checkout is down"}}]}]}))
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    # resend every second: Prometheus drops what it fires before it has discovered its
    # Alertmanagers and would otherwise resend a minute later
    prom = start_program(exe, [f"--config.file={path}",
                               f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                               f"--web.listen-address=127.0.0.1:{port}",
                               "--rules.alert.resend-delay=1s"],
                         f"http://127.0.0.1:{port}")
    store = live_engine.engine.store

    def opened() -> object:
        return [i for i in store.list_incidents()
                if "checkout" in i.services and i.status != IncidentStatus.PENDING]

    try:
        incidents = wait_for(opened, 60, "Prometheus' alert to open an incident")
    except AssertionError as exc:
        seen = {path: httpx.get(prom.url + path, timeout=5).text
                for path in ("/api/v1/alertmanagers", "/api/v1/alerts")}
        received = live_engine.get("/metrics").text
        raise AssertionError(f"{exc}\n{seen}\n{received[-3000:]}\n{prom.output()}") from None
    alert = incidents[0].alerts[0]
    assert alert.name == "CheckoutDown" and alert.generator_url.startswith("http://")
    received = live_engine.get("/metrics").text
    assert 'aiops_receiver_items_total{receiver="alertmanager_v2"}' in received
