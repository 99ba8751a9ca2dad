"""The real Alertmanager notifies the engine: incidents open on firing alerts and resolve.

Alertmanager runs on loopback without clustering, with ``docs/alertmanager.yml`` (address,
secret-less timings changed); alerts are injected through its v2 API as Prometheus would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from aiops.model import IncidentStatus, alert_fingerprint
from aiops.wire.shapes import decode_incident
from streams.broker import free_port
from tests.integration.conftest import (
    LiveEngine,
    Program,
    binary,
    load_yaml,
    wait_for,
)
from tests.integration.test_incident_schema import SCHEMA_PATH
from tests.support.kafka import read_topic

pytestmark = [pytest.mark.integration, pytest.mark.broker]


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _alertmanager_config(tmp_path: Path, engine: LiveEngine) -> Path:
    config = load_yaml("alertmanager.yml")
    config["route"].update({"group_wait": "1s", "group_interval": "1s",
                            "repeat_interval": "1h"})
    config["global"]["resolve_timeout"] = "1m"
    webhook = config["receivers"][0]["webhook_configs"][0]
    webhook["url"] = engine.url + "/api/v1/alerts/alertmanager"
    # the documented secret must be the engine's, or nothing would arrive
    assert webhook["http_config"]["authorization"]["credentials"] == engine.token
    # a second webhook with a wrong secret: the engine must refuse it with a 401
    intruder = yaml.safe_load(yaml.safe_dump(webhook))
    intruder["http_config"]["authorization"]["credentials"] = "wrong"
    config["receivers"][0]["webhook_configs"].append(intruder)
    # a third, capped at one alert per notification: Alertmanager reports truncatedAlerts
    capped = yaml.safe_load(yaml.safe_dump(webhook))
    capped["max_alerts"] = 1
    config["receivers"][0]["webhook_configs"].append(capped)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_alertmanager_webhook_opens_and_resolves_incidents(
    tmp_path: Path, live_engine: LiveEngine, caplog: pytest.LogCaptureFixture,
    start_program: Callable[[str, list[str], str], Program],
) -> None:
    exe = binary("prometheus-alertmanager")
    port = free_port()
    am = start_program(exe, [
        f"--config.file={_alertmanager_config(tmp_path, live_engine)}",
        f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ], f"http://127.0.0.1:{port}")

    now = datetime.now(UTC)
    alerts = [
        {"labels": {"alertname": "HighErrorRate", "service": "checkout",
                    "severity": "critical"},
         "annotations": {"summary": "5xx above 5%"},
         "startsAt": _iso(now - timedelta(seconds=30)),
         "endsAt": _iso(now + timedelta(minutes=10)),
         "generatorURL": "http://prometheus.example/graph?g0.expr=errors"},
        {"labels": {"alertname": "HighErrorRate", "service": "checkout",
                    "severity": "critical", "instance": "checkout-2"},
         "annotations": {"summary": "5xx above 5%"},
         "startsAt": _iso(now - timedelta(seconds=25)),
         "endsAt": _iso(now + timedelta(minutes=10))},
        {"labels": {"alertname": "HighLatency", "service": "checkout", "severity": "warning"},
         "annotations": {"summary": "p99 above 1s"},
         "startsAt": _iso(now - timedelta(seconds=20)),
         "endsAt": _iso(now + timedelta(minutes=10))},
    ]
    posted = httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=10)
    assert posted.status_code == 200, posted.text

    store = live_engine.engine.store

    def opened() -> object:
        found = store.list_incidents()
        return found if found and len(found[0].alerts) == 3 else None

    try:
        incidents = wait_for(opened, 40, "an incident with all three alerts")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{am.output()}") from None
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.status == IncidentStatus.OPEN and incident.services == ("checkout",)
    # Alertmanager's own fingerprints are the engine's alert identities
    am_alerts = httpx.get(am.url + "/api/v2/alerts", timeout=10).json()
    am_fingerprints = {a["fingerprint"] for a in am_alerts}
    assert {a.fingerprint for a in incident.alerts} == am_fingerprints
    # ...and the engine computes the same identity from the labels alone.
    assert {alert_fingerprint(a["labels"]) for a in am_alerts} == am_fingerprints

    # resolve: the same alerts with endsAt in the past
    ended = _iso(datetime.now(UTC) - timedelta(seconds=1))
    resolved = httpx.post(am.url + "/api/v2/alerts",
                          json=[dict(a, endsAt=ended) for a in alerts], timeout=10)
    assert resolved.status_code == 200, resolved.text

    def closed() -> object:
        latest = store.get_incident(incident.id)
        return latest if latest.status == IncidentStatus.RESOLVED else None

    try:
        final = wait_for(closed, 40, "the incident to resolve")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{am.output()}") from None
    assert all(a.status.value == "resolved" for a in final.alerts)
    assert [t.event for t in final.timeline][-1] == "auto_resolved"

    # the incident feed: one message per state change, keyed by id, valid against the schema
    # (changes handled in one batch are published as their last state, so versions may skip)
    feed = read_topic(live_engine.engine.kafka, live_engine.engine.topics.incidents,
                      expect=final.version, timeout=5)
    schema = json.loads(SCHEMA_PATH.read_text())
    for key, value in feed:
        jsonschema.validate(json.loads(value), schema)
        assert key == incident.id.encode()
    versions = [decode_incident(v).version for _, v in feed]
    assert versions == sorted(set(versions)) and versions[-1] == final.version

    # the capped webhook's payloads said how many alerts they left out
    assert any("left 1 alert(s) out" in r.getMessage() for r in caplog.records)

    metrics = live_engine.get("/metrics").text
    assert 'aiops_receiver_rejected_total{code="401",receiver="alertmanager"}' in metrics
    accepted = [line for line in metrics.splitlines()
                if line.startswith('aiops_receiver_items_total{receiver="alertmanager"}')]
    # 3 firing + 3 resolved, and the capped webhook's share
    assert accepted and float(accepted[0].split()[-1]) >= 8
