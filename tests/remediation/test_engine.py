"""The remediator's decisions with real executors (process supervisor, HTTP to a local
server) and in-memory ports."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from aiops.model import ActionStatus, Alert, Incident, IncidentStatus, RootCause
from remediation.engine import Remediator
from remediation.executors.base import ActionRequest, ExecutorError
from remediation.executors.http import HttpExecutor
from remediation.executors.process import ProcessExecutor, ProcessSupervisor
from remediation.guards import Guards
from remediation.learning import MemoryPosteriors, ThompsonLearner
from remediation.ports import MemoryApprovals, MemoryAudit
from remediation.runbook import DEFAULT_RUNBOOK, parse_runbooks

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _incident(i: int = 1, status: IncidentStatus = IncidentStatus.OPEN, cause: str = "cart",
              version: int = 1) -> Incident:
    alert = Alert(labels={"alertname": "Down", "service": cause}, annotations={}, starts_at=0)
    return Incident(id=f"inc-{i}", status=status, title="t", severity="critical", opened_at=0,
                    updated_at=0, alerts=(alert,), services=(cause,),
                    root_causes=(RootCause(cause, 0.9),), version=version)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def supervisor() -> Iterator[ProcessSupervisor]:
    sup = ProcessSupervisor({"cart": SLEEPER}, stop_timeout=2.0)
    sup.scale("cart", 3)
    yield sup
    sup.stop_all()


def _remediator(text: str, executors: dict[str, Any], *, dry_run: bool = False,
                kill: bool = False) -> tuple[Remediator, MemoryAudit, MemoryApprovals,
                                             MemoryPosteriors, Clock]:
    audit, approvals, posteriors, clock = MemoryAudit(), MemoryApprovals(), MemoryPosteriors(), \
        Clock()
    remediator = Remediator(parse_runbooks(text), executors, Guards(kill_switch=kill),
                            ThompsonLearner(posteriors, random.Random(0)), audit, approvals,
                            dry_run=dry_run, clock=clock)
    return remediator, audit, approvals, posteriors, clock


PROCESS_BOOK = """
runbooks:
  - name: cart
    match: {services: [cart]}
    actions: [{name: restart, kind: process_restart, batch: 1}]
    guards: {cooldown_s: 300, max_replica_share: 0.34}
    success: {window_s: 60}
"""


def test_default_is_a_dry_run_plan_even_without_executors() -> None:
    audit = MemoryAudit()
    remediator = Remediator([DEFAULT_RUNBOOK], {}, Guards(),
                            ThompsonLearner(MemoryPosteriors(), random.Random(0)), audit,
                            MemoryApprovals())
    [action] = remediator.handle(_incident())
    assert action.status is ActionStatus.DRY_RUN and action.dry_run
    assert action.kind == "restart" and action.target == "cart"
    assert "no kubernetes executor configured" in action.reason
    assert remediator.handle(_incident(version=2)) == []  # decided once per incident
    assert [e.decision for e in audit.entries] == ["dry_run"]


def test_applied_restart_is_verified_and_learned(supervisor: ProcessSupervisor) -> None:
    before = supervisor.pids("cart")
    remediator, audit, _, posteriors, clock = _remediator(
        PROCESS_BOOK, {"process": ProcessExecutor(supervisor)})
    [action] = remediator.handle(_incident())
    assert action.status is ActionStatus.SUCCEEDED, action.reason
    after = supervisor.pids("cart")
    assert len(after) == 3 and not set(before) & set(after)
    clock.now += 30
    [verified] = remediator.handle(_incident(status=IncidentStatus.RESOLVED, version=2))
    assert verified.id == action.id and "resolved" in verified.reason
    assert posteriors.get("cart|Down", "restart").successes == 1
    # Cooldown: a second incident on the same target 30 s later is refused, and audited.
    [refused] = remediator.handle(_incident(2))
    assert refused.status is ActionStatus.REFUSED and refused.reason.startswith("cooldown")
    assert [e.decision for e in audit.entries] == ["applied", "verified", "refused"]


def test_verification_window_running_out_is_a_failure_and_disables(
    supervisor: ProcessSupervisor,
) -> None:
    book = PROCESS_BOOK.replace("cooldown_s: 300", "cooldown_s: 0")
    remediator, audit, _, posteriors, clock = _remediator(
        book + "    learning: {disable_after_failures: 2, escalate_below: 0.0}\n",
        {"process": ProcessExecutor(supervisor)})
    for i in range(3):
        remediator.handle(_incident(i))
        clock.now += 61
        remediator.tick(clock.now)
    p = posteriors.get("cart|Down", "restart")
    assert (p.failures, p.disabled) == (2, True)
    decisions = [e.decision for e in audit.entries]
    assert decisions == ["applied", "verification_failed", "applied", "verification_failed",
                         "disabled", "escalated"]


def test_blast_radius_refuses_restarting_too_many_replicas_at_once(
    supervisor: ProcessSupervisor,
) -> None:
    remediator, *_ = _remediator(PROCESS_BOOK.replace("batch: 1", "batch: 2"),
                                 {"process": ProcessExecutor(supervisor)})
    [action] = remediator.handle(_incident())
    assert action.status is ActionStatus.REFUSED
    assert action.reason == "blast radius: 2 of 3 replicas at once (67%, max 34%)"


def test_kill_switch_refuses_and_approval_waits_for_a_person(
    supervisor: ProcessSupervisor,
) -> None:
    book = PROCESS_BOOK.replace("batch: 1", "batch: 1, requires_approval: true")
    remediator, _audit, approvals, _, clock = _remediator(
        book, {"process": ProcessExecutor(supervisor)})
    [pending] = remediator.handle(_incident())
    assert pending.status is ActionStatus.PENDING_APPROVAL
    before = supervisor.pids("cart")
    assert remediator.tick(clock.now) == []
    approvals.decide(pending.id, True, "alice", clock.now)
    [applied] = remediator.tick(clock.now)
    assert applied.status is ActionStatus.SUCCEEDED and "approved by alice" in applied.reason
    assert not set(before) & set(supervisor.pids("cart"))
    assert remediator.tick(clock.now) == []  # executed once

    killed, _kaudit, *_ = _remediator(PROCESS_BOOK, {"process": ProcessExecutor(supervisor)},
                                     kill=True)
    [refused] = killed.handle(_incident(5))
    assert refused.status is ActionStatus.REFUSED and "kill switch" in refused.reason


def test_process_scale_and_dry_run(supervisor: ProcessSupervisor) -> None:
    executor = ProcessExecutor(supervisor)
    dry = executor.execute(ActionRequest("process_scale", "cart", {"delta": 2}), dry_run=True)
    assert dry.changes == {"from": 3, "to": 5} and len(supervisor.pids("cart")) == 3
    executor.execute(ActionRequest("process_scale", "cart", {"delta": -2, "min": 2}),
                     dry_run=False)
    assert len(supervisor.pids("cart")) == 2
    with pytest.raises(ExecutorError, match="no such supervised service"):
        executor.execute(ActionRequest("process_restart", "nope"), dry_run=False)


class _Hook(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        _Hook.calls.append(("POST", self.path, body))
        self.send_response(500 if "fail" in self.path else 202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_http_executor_calls_and_checks_the_status() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with httpx.Client(timeout=2) as client:
            executor = HttpExecutor(client)
            request = ActionRequest("http", "cart", {"url": base + "/flush/{target}",
                                                     "json": {"all": True}})
            assert executor.execute(request, dry_run=True).detail.startswith("would POST")
            assert _Hook.calls == []
            assert executor.execute(request, dry_run=False).changes == {"status": 202}
            assert _Hook.calls == [("POST", "/flush/cart", b'{"all":true}')]
            with pytest.raises(ExecutorError, match="answered 500"):
                executor.execute(ActionRequest("http", "x", {"url": base + "/fail"}),
                                 dry_run=False)
    finally:
        server.shutdown()
        server.server_close()


def test_stale_approvals_are_not_applied(supervisor: ProcessSupervisor) -> None:
    book = PROCESS_BOOK.replace("batch: 1", "batch: 1, requires_approval: true")
    remediator, _audit, approvals, _, clock = _remediator(
        book, {"process": ProcessExecutor(supervisor)})
    [first] = remediator.handle(_incident(1))
    [second] = remediator.handle(_incident(2))
    remediator.handle(_incident(1, IncidentStatus.RESOLVED, version=2))
    approvals.decide(first.id, True, "alice", clock.now)
    clock.now += 7200
    approvals.decide(second.id, True, "bob", clock.now)
    before = supervisor.pids("cart")
    refused = remediator.tick(clock.now)
    assert [a.status for a in refused] == [ActionStatus.REFUSED] * 2
    assert "resolved before the approval" in refused[0].reason
    assert "approved after 3600s" in refused[1].reason
    assert supervisor.pids("cart") == before

