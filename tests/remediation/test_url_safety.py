"""Templated URLs of HTTP actions, with hostile labels, against real local HTTP servers: what
came from an alert is escaped, only allowed hosts are reached, a refusal is a recorded
decision."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from aiops.model import ActionStatus, Alert, ConfigError, Incident, IncidentStatus, RootCause
from remediation.engine import Remediator
from remediation.executors.http import HttpExecutor
from remediation.guards import Guards
from remediation.learning import MemoryPosteriors, ThompsonLearner
from remediation.ports import MemoryApprovals, MemoryAudit
from remediation.runbook import parse_runbooks

HOSTILE = ["x@127.0.0.1:{other}/steal#", "../../admin/users#", "a?b=c&d=e", "..", "x:y@z"]


class _Server:
    def __init__(self) -> None:
        self.calls: list[str] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                calls.append(self.path)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[_Server, _Server]]:
    allowed, other = _Server(), _Server()
    yield allowed, other
    allowed.close()
    other.close()


def _incident(i: int, cause: str) -> Incident:
    alert = Alert(labels={"alertname": "Down", "service": cause}, annotations={}, starts_at=0)
    return Incident(id=f"inc-{i}", status=IncidentStatus.OPEN, title="t", severity="critical",
                    opened_at=0, updated_at=0, alerts=(alert,), services=(cause,),
                    root_causes=(RootCause(cause, 0.9),))


def _remediator(url: str, client: httpx.Client, allowed: list[str] | None = None
                ) -> tuple[Remediator, MemoryAudit]:
    hosts = f", allowed_hosts: {allowed}" if allowed is not None else ""
    book = parse_runbooks(f"""
runbooks:
  - name: flush
    actions: [{{name: flush, kind: http, params: {{url: "{url}"{hosts}}}}}]
    guards: {{cooldown_s: 0, max_actions_per_window: 100}}
""")
    audit = MemoryAudit()
    remediator = Remediator(book, {"http": HttpExecutor(client)}, Guards(),
                            ThompsonLearner(MemoryPosteriors(), random.Random(0)), audit,
                            MemoryApprovals(), dry_run=False)
    return remediator, audit


def test_values_in_the_path_and_query_are_escaped(servers: tuple[_Server, _Server]) -> None:
    allowed, other = servers
    url = f"http://127.0.0.1:{allowed.port}/flush/{{target}}?svc={{target}}"
    with httpx.Client(timeout=2) as client:
        remediator, audit = _remediator(url, client)
        decisions = []
        for i, label in enumerate(HOSTILE):
            decisions += remediator.handle(_incident(i, label.format(other=other.port)))
    assert other.calls == []  # nothing ever reached the other host
    by_cause = {a.target: a for a in decisions}
    assert by_cause[".."].status == ActionStatus.REFUSED
    assert "dot-only" in by_cause[".."].reason
    assert f"/flush/x%40127.0.0.1%3A{other.port}%2Fsteal%23?svc=x%40127.0.0.1%3A" \
           f"{other.port}%2Fsteal%23" in allowed.calls
    assert "/flush/..%2F..%2Fadmin%2Fusers%23?svc=..%2F..%2Fadmin%2Fusers%23" in allowed.calls
    assert "/flush/a%3Fb%3Dc%26d%3De?svc=a%3Fb%3Dc%26d%3De" in allowed.calls
    assert len(allowed.calls) == 4
    assert [e.decision for e in audit.entries].count("refused") == 1


def test_a_placeholder_in_the_host_only_reaches_allowed_hosts(
    servers: tuple[_Server, _Server]
) -> None:
    allowed, other = servers
    url = f"http://{{target}}:{allowed.port}/restart"
    with httpx.Client(timeout=2) as client:
        remediator, audit = _remediator(url, client, [f"http://127.0.0.1:{allowed.port}"])
        [ok] = remediator.handle(_incident(1, "127.0.0.1"))
        [hostile] = remediator.handle(_incident(2, f"x@127.0.0.1:{other.port}/steal#"))
        [elsewhere] = remediator.handle(_incident(3, "localhost"))
    assert ok.status == ActionStatus.SUCCEEDED and allowed.calls == ["/restart"]
    assert other.calls == []
    for refused in (hostile, elsewhere):
        assert refused.status == ActionStatus.REFUSED
        assert "not an allowed host" in refused.reason
    assert [e.decision for e in audit.entries] == ["applied", "refused", "refused"]


def test_a_dry_run_refuses_the_same_urls(servers: tuple[_Server, _Server]) -> None:
    allowed, _ = servers
    with httpx.Client(timeout=2) as client:
        remediator, audit = _remediator(f"http://{{target}}:{allowed.port}/r", client,
                                        [f"http://127.0.0.1:{allowed.port}"])
        remediator.dry_run = True
        [refused] = remediator.handle(_incident(1, "169.254.169.254"))
    assert refused.status == ActionStatus.REFUSED and allowed.calls == []
    assert audit.entries[0].decision == "refused" and "169.254.169.254" in refused.reason


@pytest.mark.parametrize(("params", "reason"), [
    ('{url: "http://{target}/x"}', "list params.allowed_hosts"),
    ('{url: "http://c/x", allowed_hosts: ["ftp://c"]}', "not an absolute http"),
    ('{url: "http://c/x", allowed_hosts: "http://c"}', "must be a list"),
])
def test_runbooks_with_an_open_host_are_refused_at_load(params: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_runbooks(f"runbooks: [{{name: a, actions: [{{name: h, kind: http, "
                       f"params: {params}}}]}}]")


def test_a_refusal_is_logged_as_a_remediation_event(servers: tuple[_Server, _Server],
                                                     caplog: pytest.LogCaptureFixture) -> None:
    allowed, _ = servers
    caplog.set_level(logging.INFO)
    with httpx.Client(timeout=2) as client:
        remediator, _audit = _remediator(f"http://{{target}}:{allowed.port}/r", client,
                                         [f"http://127.0.0.1:{allowed.port}"])
        remediator.handle(_incident(1, "evil.example"))
    [record] = [r for r in caplog.records if getattr(r, "event", "").startswith("remediation")]
    assert record.event == "remediation.refused"  # type: ignore[attr-defined]
    assert record.incident == "inc-1" and "not an allowed host" in record.reason  # type: ignore[attr-defined]
