"""``aiops demo --remediate``: the closed loop, fault to verified recovery, timed.

The engine runs as ``aiops run`` does (local broker, the three stages, SQLite) with
remediation applied for real: its process supervisor owns a small HTTP service, ``checkout``,
started as a local process. The fault makes that process answer 500 until it is restarted. A
prober stands in for Prometheus' blackbox exporter and Alertmanager: it checks ``/healthz``
every 0.25 s and posts Alertmanager webhooks (firing, then resolved) to the engine's receiver.
A local HTTP sink stands in for Slack and records when each message arrived.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer

SERVICE = textwrap.dedent("""
    import os, signal, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    broken = False
    def fault(*_):
        global broken
        broken = True
    signal.signal(signal.SIGUSR1, fault)
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            body = str(os.getpid()).encode()
            self.send_response(500 if broken else 200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    HTTPServer.allow_reuse_address = True
    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")

RUNBOOK = """
runbooks:
  - name: checkout-restart
    match: {services: [checkout], alert_names: [CheckoutDown]}
    actions:
      - {name: restart, kind: process_restart, batch: 1}
    guards: {cooldown_s: 60, max_replica_share: 1.0}
    success: {check: alert_resolved, window_s: 60}
"""


class SlackSink:
    """A local stand-in for a Slack incoming webhook: accepts Block Kit JSON, answers ok."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    message = orjson.loads(body)
                    ok = isinstance(message, dict) and ("text" in message or "blocks" in message)
                except orjson.JSONDecodeError:
                    ok = False
                if ok:
                    sink.messages.append((time.time(), message))
                self.send_response(200 if ok else 400)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"invalid_payload")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/services/demo"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def _webhook(status: str, starts: str, ends: str | None = None) -> dict[str, object]:
    alert = {"status": status, "labels": {"alertname": "CheckoutDown", "service": "checkout",
                                          "severity": "critical"},
             "annotations": {"summary": "checkout answers 500"}, "startsAt": starts,
             "endsAt": ends or "0001-01-01T00:00:00Z", "generatorURL": ""}
    return {"version": "4", "status": status, "receiver": "aiops", "groupLabels": {},
            "commonLabels": alert["labels"], "commonAnnotations": {}, "externalURL": "",
            "groupKey": "{}", "truncatedAlerts": 0, "alerts": [alert]}


def run_closed_loop(timeout: float = 120.0) -> dict[str, float]:
    """Run the loop; return the time of each step in seconds after the fault."""
    from fastapi.testclient import TestClient

    from aiops.app import STAGES, Engine, Workers
    from aiops.settings import Settings, SlackDestinationSettings
    from aiops.wire.timefmt import format_time
    from streams.broker import LocalBroker, free_port

    sink = SlackSink()
    port = free_port()
    marks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, LocalBroker() as broker:
        service = Path(tmp) / "checkout.py"
        service.write_text(SERVICE)
        runbooks = Path(tmp) / "runbooks.yaml"
        runbooks.write_text(RUNBOOK)
        settings = Settings.load(None)
        settings.kafka.bootstrap_servers = broker.bootstrap_servers
        settings.store.url = f"sqlite:///{tmp}/aiops.db"
        settings.correlation.quiet_period_s = 2.0
        settings.remediation.dry_run = False
        settings.remediation.runbooks_file = str(runbooks)
        settings.remediation.processes = {"checkout": [sys.executable, str(service), str(port)]}
        settings.notify.slack = [SlackDestinationSettings(webhook_url=sink.url)]
        engine = Engine.build(settings, broker.bootstrap_servers)
        engine.ensure_topics()
        workers = Workers([engine.runner(name) for name in STAGES])
        workers.start()
        workers.wait_ready(60)
        api = TestClient(engine.api())
        client = httpx.Client(timeout=1.0)

        def health() -> tuple[int, int]:
            try:
                r = client.get(f"http://127.0.0.1:{port}/healthz")
                return r.status_code, int(r.text)
            except (httpx.HTTPError, ValueError):
                return 0, 0

        deadline = time.monotonic() + 15
        while health()[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        _code, first_pid = health()
        pids = {first_pid}
        t0 = time.time()
        os.kill(first_pid, signal.SIGUSR1)
        marks["fault injected"] = t0
        firing_since: str | None = None
        try:
            while time.time() - t0 < timeout:
                code, pid = health()
                pids.add(pid)
                now = time.time()
                if code != 200 and firing_since is None:
                    firing_since = format_time(now) or ""
                    api.post("/api/v1/alerts/alertmanager", json=_webhook("firing", firing_since))
                    marks["detected (prober posts the firing alert)"] = now
                elif code == 200 and firing_since and "recovered" not in marks:
                    marks["recovered (healthz answers 200 again)"] = now
                    marks["recovered"] = now
                    api.post("/api/v1/alerts/alertmanager",
                             json=_webhook("resolved", firing_since, format_time(now) or ""))
                incidents = engine.store.list_incidents()
                if incidents:
                    marks.setdefault("incident opened, root cause "
                                     f"{incidents[0].root_causes[0].service}"
                                     if incidents[0].root_causes else "incident opened", now)
                    if incidents[0].status.value == "resolved":
                        marks.setdefault("incident auto-resolved", now)
                if sink.messages:
                    marks.setdefault("notification received by the Slack sink",
                                     sink.messages[0][0])
                for entry in api.get("/api/v1/audit").json()["entries"]:
                    if entry["decision"] == "applied":
                        marks.setdefault(f"remediation applied: {entry['action']} "
                                         f"{entry['target']}", entry["ts"])
                    if entry["decision"] == "verified":
                        marks.setdefault("recovery verified", entry["ts"])
                if "recovery verified" in marks and "incident auto-resolved" in marks:
                    break
                time.sleep(0.25)
        finally:
            workers.stop()
            for pid in pids - {0}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            sink.close()
    marks.pop("recovered", None)
    return {name: ts - t0 for name, ts in marks.items()}


def demo_remediate(timeout: float) -> None:
    steps = run_closed_loop(timeout)
    typer.echo("closed loop: fault -> detection -> incident -> notification -> remediation "
               "-> recovery -> auto-resolve")
    for name, offset in sorted(steps.items(), key=lambda kv: kv[1]):
        typer.echo(f"  +{offset:6.2f}s  {name}")
    if "recovery verified" not in steps or "incident auto-resolved" not in steps:
        typer.echo("the loop did not close in time", err=True)
        raise typer.Exit(1)
    typer.echo(f"MTTR (fault to verified recovery): {steps['recovery verified']:.2f}s")
