"""Verification by metric through the Prometheus HTTP API, and resuming after a restart."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from aiops.model import ActionStatus, Alert, Incident, IncidentStatus, RootCause
from remediation.engine import Remediator
from remediation.executors.base import ActionRequest, ExecutionResult
from remediation.guards import Guards
from remediation.learning import MemoryPosteriors, ThompsonLearner
from remediation.ports import MemoryApprovals, MemoryAudit
from remediation.probes import PrometheusProbe
from remediation.runbook import parse_runbooks

BOOK = """
runbooks:
  - name: errors
    actions: [{name: flush, kind: http, params: {url: "http://cache.invalid/flush"}}]
    success: {check: metric_within, metric: error_ratio, labels: {env: prod}, max: 0.05,
              window_s: 120}
"""


class _Prometheus(BaseHTTPRequestHandler):
    value: str | None = "0.30"
    queries: list[str] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)["query"][0]
        _Prometheus.queries.append(query)
        result = [] if self.value is None else [
            {"metric": {"__name__": "error_ratio"}, "value": [1.7e9, self.value]}]
        body = json.dumps({"status": "success",
                           "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200 if url.path == "/api/v1/query" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _Http:
    def replicas(self, target: str, params: Any) -> int | None:
        return None

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        return ExecutionResult("flushed")


def _incident() -> Incident:
    alert = Alert(labels={"alertname": "Errors", "service": "api"}, annotations={}, starts_at=0)
    return Incident(id="inc-1", status=IncidentStatus.OPEN, title="t", severity="critical",
                    opened_at=0, updated_at=0, alerts=(alert,), services=("api",),
                    root_causes=(RootCause("api", 0.9),))


def test_metric_back_within_bounds_verifies_the_action(prometheus: str) -> None:
    now = [100.0]
    posteriors = MemoryPosteriors()
    with httpx.Client(timeout=2) as client:
        remediator = Remediator(
            parse_runbooks(BOOK), {"http": _Http()}, Guards(),
            ThompsonLearner(posteriors, random.Random(0)), MemoryAudit(), MemoryApprovals(),
            dry_run=False, probe=PrometheusProbe(client, prometheus), clock=lambda: now[0],
        )
        [applied] = remediator.handle(_incident())
        assert applied.status is ActionStatus.SUCCEEDED
        _Prometheus.value = "0.30"
        assert remediator.tick(110.0) == []          # still erroring: keep waiting
        _Prometheus.value = None
        assert remediator.tick(120.0) == []          # no sample: keep waiting
        _Prometheus.value = "0.01"
        [verified] = remediator.tick(130.0)
    assert "error_ratio=0.01 in bounds" in verified.reason
    assert _Prometheus.queries[-1] == 'error_ratio{env="prod",service="api"}'
    assert posteriors.get("api|Errors", "flush").successes == 1


def test_a_restarted_remediator_resumes_verification_from_the_audit_trail() -> None:
    audit = MemoryAudit()
    posteriors = MemoryPosteriors()

    def build() -> Remediator:
        return Remediator(parse_runbooks(BOOK.replace("metric_within", "alert_resolved")),
                          {"http": _Http()}, Guards(), ThompsonLearner(posteriors,
                          random.Random(0)), audit, MemoryApprovals(), dry_run=False,
                          clock=lambda: 100.0)

    build().handle(_incident())
    restarted = build()
    restarted.restore([e for e in audit.entries if e.decision == "applied"])
    assert restarted.handle(_incident()) == []  # not decided twice
    assert restarted.tick(150.0) == []
    [failed] = restarted.tick(221.0)            # window: applied at 100 + 120 s
    assert failed.status is ActionStatus.FAILED
    assert posteriors.get("api|Errors", "flush").failures == 1
