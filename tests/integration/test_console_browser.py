"""The console in a real browser (Debian's chromium, driven by Playwright) against the whole
engine on the real local broker: alerts posted to the webhook appear in the live list
without a reload, the incident page draws the ranked causes, the graph with the root cause
highlighted and a plot, acknowledging and silencing work only with the credential, and no
request leaves the host.

Screenshots of the main pages go to ``$AIOPS_SCREENSHOTS`` when it is set (the README's
pictures in ``docs/screenshots`` are made this way), else to the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from aiops.app import STAGES
from aiops.settings import Settings
from streams.producer import EventProducer, Record
from streams.topics import Topics
from tests.integration.conftest import DOCS, LiveEngine, wait_for
from tests.support.live import isolated, running

pytestmark = [pytest.mark.integration, pytest.mark.broker]

CHROMIUM = "/usr/bin/chromium"

TOPOLOGY = """
services:
  - {name: web}
  - {name: checkout}
  - {name: payments}
  - {name: db, kind: database}
  - {name: mail}
edges:
  - {source: web, target: checkout}
  - {source: checkout, target: payments}
  - {source: payments, target: db}
  - {source: web, target: mail}
"""


@pytest.fixture
def console_engine(tmp_path: Path, topics: Topics, broker: str) -> Iterator[LiveEngine]:
    """Every stage and the API with a service graph, from docs/aiops.yaml."""
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY)
    settings = isolated(Settings.load(DOCS / "aiops.yaml"), tmp_path, topics, broker)
    settings.topics.topology = f"{topics.metrics}.topology"
    settings.correlation.topology_file = str(topology)
    settings.correlation.confirm_after_s = 0.0  # raise at once: the test watches it open
    with running(settings) as (engine, workers, url):
        yield LiveEngine(engine, workers, url, settings.api.bearer_token)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": "4", "status": "firing", "receiver": "aiops", "groupKey": "{}:{}",
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.invalid", "alerts": alerts}


def _alert(name: str, service: str, ago_s: float, **extra: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"status": "firing",
            "labels": {"alertname": name, "service": service, "severity": "critical", **extra},
            "annotations": {"summary": f"{name} on {service}"},
            "startsAt": _iso(now - timedelta(seconds=ago_s)), "endsAt": "0001-01-01T00:00:00Z"}


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("AIOPS_SCREENSHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def test_console_in_a_real_browser(console_engine: LiveEngine, screenshots: Path) -> None:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    sync_api = pytest.importorskip("playwright.sync_api")
    engine = console_engine
    auth = {"Authorization": f"Bearer {engine.token}"}
    host = urlsplit(engine.url).netloc
    requested: list[str] = []

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu"])
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.on("request", lambda request: requested.append(request.url))
        page = context.new_page()

        page.goto(engine.url + "/ui/incidents")
        assert page.locator("tr.inc").count() == 0
        page.evaluate("window.__sameDocument = true")

        # An alert storm arrives through the Alertmanager webhook ...
        posted = httpx.post(engine.url + "/api/v1/alerts/alertmanager", headers=auth,
                            timeout=10, json=_webhook([
                                _alert("DBConnectionsSaturated", "db", 60),
                                _alert("HighLatency", "payments", 50),
                                _alert("HighLatency", "checkout", 40),
                                _alert("HighErrorRate", "checkout", 35, instance="c-2"),
                                _alert("HighLatency", "web", 30),
                            ]))
        assert posted.status_code == 200, posted.text
        # ... and the incident appears in the open page without a reload.
        page.wait_for_selector("tr.inc", timeout=45_000)
        assert page.evaluate("window.__sameDocument") is True
        wait_for(lambda: page.locator("#funnel-alerts").inner_text() == "5", 20,
                 "the funnel to count the five alerts")
        page.screenshot(path=str(screenshots / "console-incidents.png"), full_page=True)

        incident_id = page.locator("tr.inc").first.get_attribute("data-id")
        assert incident_id
        incident = httpx.get(f"{engine.url}/api/v1/incidents/{incident_id}", timeout=10).json()
        top_cause = incident["root_causes"][0]["service"]

        page.locator("tr.inc a").first.click()
        page.wait_for_url(f"**/ui/incidents/{incident_id}")
        assert page.locator("#causes li").count() >= 1
        assert page.locator("#causes li").first.locator("b").inner_text() == top_cause
        page.wait_for_function("window.aiopsGraphs && window.aiopsGraphs.graph")
        roots = page.evaluate("window.aiopsGraphs.graph.$('node.root').map(n => n.id())")
        assert roots == [top_cause]
        border = page.evaluate(
            "window.aiopsGraphs.graph.$('node.root')[0].style('border-color')")
        assert border.replace(" ", "") == "rgb(214,59,47)"
        drawn = page.evaluate("window.aiopsGraphs.graph.nodes().map(n => n.id())")
        assert {"db", "payments", "checkout", "web"} <= set(drawn)
        assert page.locator("#graph canvas").count() >= 1
        page.wait_for_selector("figure.plot .uplot canvas")
        assert page.locator("#status").inner_text() == "open"
        page.screenshot(path=str(screenshots / "console-incident.png"), full_page=True)

        # Acting needs the write credential: refused before logging in ...
        page.click("#ack")
        page.wait_for_selector("#action-result .msg.error")
        assert "log in" in page.locator("#action-result").inner_text()
        assert page.locator("#status").inner_text() == "open"

        # ... accepted after.
        page.goto(f"{engine.url}/ui/login?next=/ui/incidents/{incident_id}")
        page.fill("input[name=name]", "ana")
        page.fill("input[name=token]", "wrong")
        page.click("#login button")
        assert "invalid bearer token" in page.locator(".msg.error").inner_text()
        page.fill("input[name=name]", "ana")
        page.fill("input[name=token]", engine.token)
        page.click("#login button")
        page.wait_for_url(f"**/ui/incidents/{incident_id}")
        page.click("#ack")
        page.wait_for_function(
            "document.querySelector('#status').innerText === 'acknowledged'", timeout=20_000)
        stored = httpx.get(f"{engine.url}/api/v1/incidents/{incident_id}", timeout=10).json()
        assert stored["status"] == "acknowledged"
        assert stored["timeline"][-1]["actor"] == "ana"

        # Silence the incident's alerts from its page.
        page.click("#silence-btn")
        page.wait_for_selector("#silence-result .msg.ok")
        silences = httpx.get(engine.url + "/api/v1/silences", timeout=10).json()["silences"]
        assert len(silences) == 1 and silences[0]["createdBy"] == "ana"
        names = {m["name"] for m in silences[0]["matchers"]}
        assert names == {"alertname", "service"}

        page.goto(engine.url + "/ui/silences")
        assert page.locator("#silences tbody tr[data-id]").count() == 1
        page.screenshot(path=str(screenshots / "console-silences.png"), full_page=True)

        page.goto(engine.url + "/ui/graph")
        page.wait_for_selector("#service-graph[data-loaded]")
        overlay = page.evaluate(
            "window.aiopsGraphs['service-graph'].$('node.root').map(n => n.id())")
        assert overlay == [top_cause]
        page.screenshot(path=str(screenshots / "console-graph.png"))

        # a record no stage can read goes to the dead-letter topic; the health page counts it
        EventProducer(engine.engine.kafka).publish(
            [Record(engine.engine.topics.alerts, b"x", b"{not json")])
        page.goto(engine.url + "/ui/health")
        assert page.locator("#stages tbody tr").count() == len(STAGES)
        # the broker's view: every stage's consumer group has committed, none is behind
        wait_for(lambda: page.locator("#groups tbody tr").count() == len(STAGES), 15,
                 "group lag rows")
        page.wait_for_function("document.querySelector('#dlq').innerText === '1'",
                               timeout=30_000)
        page.screenshot(path=str(screenshots / "console-health.png"))

        page.goto(engine.url + "/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        page.goto(engine.url + "/redoc")
        page.wait_for_selector("h1", timeout=20_000)
        time.sleep(0.5)
        browser.close()

    elsewhere = [u for u in requested
                 if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                 and urlsplit(u).netloc != host]
    assert not elsewhere, f"requests left the host: {elsewhere[:5]}"
    assert any("/ui/incidents/live" in u for u in requested)
