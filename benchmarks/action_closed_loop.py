"""Closed loop on the real engine: fault -> alert -> incident -> Slack -> restart -> recovery
-> incident resolved -> action verified, with the time of each step (MTTR).

The engine runs as ``aiops run`` does (local broker, the three stages on threads, SQLite),
with remediation applied for real (``dry_run: false``): its process supervisor owns a small
HTTP service, ``checkout``. The fault makes that process answer 500 until restarted. A
prober here stands in for Prometheus + Alertmanager: it checks ``/healthz`` every 0.5 s
and posts Alertmanager webhooks (firing, then resolved) to the engine's receiver. Slack is
the local fake that validates Block Kit.

    /work/venv/bin/python benchmarks/action_closed_loop.py
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook(status: str, starts: str, ends: str | None = None) -> dict[str, object]:
    alert = {"status": status, "labels": {"alertname": "CheckoutDown", "service": "checkout",
                                          "severity": "critical"},
             "annotations": {"summary": "checkout answers 500"}, "startsAt": starts,
             "endsAt": ends or "0001-01-01T00:00:00Z", "generatorURL": ""}
    return {"version": "4", "status": status, "receiver": "aiops", "groupLabels": {},
            "commonLabels": alert["labels"], "commonAnnotations": {}, "externalURL": "",
            "groupKey": "{}", "truncatedAlerts": 0, "alerts": [alert]}


def main() -> int:
    from fastapi.testclient import TestClient

    from aiops.app import STAGES, Engine, Workers
    from aiops.settings import Settings, SlackDestinationSettings
    from streams.broker import LocalBroker
    from streams.timefmt import format_time
    from tests.aiops.notify.fakes import SLACK_PATH, start_fake

    fake, fake_server = start_fake()
    port = free_port()
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
        settings.notify.slack = [SlackDestinationSettings(webhook_url=fake.url(SLACK_PATH))]
        engine = Engine.build(settings, broker.bootstrap_servers)
        engine.ensure_topics()
        workers = Workers([engine.runner(name) for name in STAGES])
        workers.start()
        assert workers.wait_ready(60)
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
        code, first_pid = health()
        print(f"checkout healthy (pid {first_pid}) under the engine's supervisor")
        t0 = time.time()
        os.kill(first_pid, signal.SIGUSR1)
        marks: dict[str, float] = {"fault injected": t0}
        firing_since: str | None = None
        pids = {first_pid}
        try:
            while time.time() - t0 < 120:
                code, pid = health()
                pids.add(pid)
                now = time.time()
                if code != 200 and firing_since is None:
                    firing_since = format_time(now)
                    api.post("/api/v1/alerts/alertmanager", json=webhook("firing",
                                                                         firing_since))
                    marks["alert fired (prober)"] = now
                elif code == 200 and firing_since and "alert resolved (prober)" not in marks:
                    marks["recovered (healthz 200)"] = now
                    api.post("/api/v1/alerts/alertmanager",
                             json=webhook("resolved", firing_since, format_time(now)))
                    marks["alert resolved (prober)"] = now
                incidents = engine.store.list_incidents()
                if incidents and "incident opened" not in marks:
                    marks["incident opened"] = now
                if fake.slack and "Slack notified" not in marks:
                    marks["Slack notified"] = fake.slack_times[0]
                if incidents and incidents[0].status.value == "resolved" and \
                        "incident resolved" not in marks:
                    marks["incident resolved"] = now
                names = {"applied": "restart applied (audit time)",
                         "verified": "action verified (audit time)"}
                for entry in api.get("/api/v1/audit").json()["entries"]:
                    if entry["decision"] in names:
                        marks.setdefault(names[entry["decision"]], entry["ts"])
                if "action verified (audit time)" in marks:
                    break
                time.sleep(0.25)
        finally:
            workers.stop()
            for pid in pids - {0}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            fake_server.shutdown()
        for name, ts in sorted(marks.items(), key=lambda kv: kv[1]):
            print(f"  +{ts - t0:6.2f}s  {name}")
        if "incident resolved" in marks:
            print(f"MTTR (fault to incident resolved): {marks['incident resolved'] - t0:.2f}s")
        if "Slack notified" in marks and "incident opened" in marks:
            print(f"notification after incident seen in the store: "
                  f"{marks['Slack notified'] - marks['incident opened']:+.2f}s "
                  f"(store polled every ~0.3 s)")
        learned = api.get("/api/v1/learning").json()["posteriors"]
        print(f"learned: {learned}")
        print(f"Slack messages: {sorted(fake.slack_keys())}; rejected: {fake.rejected}")
        return 0 if "action verified (audit time)" in marks else 1


if __name__ == "__main__":
    raise SystemExit(main())
