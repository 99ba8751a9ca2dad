"""The act stage with its real parts: outbox notifier to the fake services, remediator with
the SQL audit/approval/posterior store, and the remediation API over the same database."""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from aiops.api.app import create_api
from aiops.api.deps import ApiDeps
from aiops.model import ConflictError, IncidentStatus, NotFoundError
from aiops.notify.build import build_notifier
from aiops.settings import (
    ApiSettings,
    NotifySettings,
    PagerDutyDestinationSettings,
    RouteSettings,
    SlackDestinationSettings,
)
from aiops.stages.act import ActStage
from aiops.storage import Store, create_engine, normalize_url
from aiops.storage.migrate import upgrade
from aiops.storage.remediation import RemediationStore
from aiops.telemetry import Telemetry
from aiops.wire.shapes import decode_action, encode_incident
from remediation.engine import Remediator
from remediation.executors.process import ProcessExecutor, ProcessSupervisor
from remediation.guards import Guards
from remediation.learning import Posterior, ThompsonLearner
from remediation.ports import Approval, AuditEntry
from remediation.runbook import parse_runbooks
from streams.kafka import KafkaConfig
from streams.producer import EventProducer
from streams.stage import Incoming
from streams.topics import Topics
from tests.aiops.notify.conftest import make_incident
from tests.aiops.notify.fakes import PD_PATH, SLACK_PATH, FakeServices, start_fake

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TOPICS = Topics(metrics="m", logs="l", alerts="a", incidents="i", actions="x", dlq="d")
BOOK = """
runbooks:
  - name: payments
    match: {services: [payments]}
    actions:
      - {name: restart, kind: process_restart, requires_approval: true}
    guards: {max_replica_share: 1.0}
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aiops.db'}"
        return
    schema = f"aiops_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = normalize_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    upgrade(db_url)
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def test_audit_approvals_and_posteriors_persist(engine: sa.Engine) -> None:
    store = RemediationStore(engine, clock=lambda: 50.0)
    entry = AuditEntry(ts=10.0, incident_id="i1", action_id="i1:restart", runbook="rb",
                       action="restart", kind="restart", target="cart", decision="applied",
                       reason="because", details={"signature": "cart|Down"})
    store.record(entry)
    assert store.decided("i1") and not store.decided("i2")
    assert store.audit(incident_id="i1") == [entry]
    assert store.applied_since(5.0) == [entry] and store.applied_since(11.0) == []
    assert store.unverified(0.0) == [entry]
    store.record(replace(entry, ts=12.0, decision="verified", reason="resolved"))
    assert store.unverified(0.0) == []

    approval = Approval(id="i1:restart", incident_id="i1", runbook="rb", action="restart",
                        kind="restart", target="cart", signature="cart|Down",
                        params={"batch": 1}, requested_at=20.0)
    store.request(approval)
    store.request(approval)  # a redelivered decision requests nothing new
    assert store.approvals(status="pending") == [approval]
    decided = store.decide("i1:restart", True, "alice", "go")
    assert (decided.status, decided.decided_by, decided.decided_at) == ("approved", "alice", 50)
    with pytest.raises(ConflictError):
        store.decide("i1:restart", False, "bob")
    with pytest.raises(NotFoundError):
        store.decide("nope", True, "bob")
    assert [a.id for a in store.approved()] == ["i1:restart"]
    store.finish("i1:restart", 60.0)
    assert store.approved() == []
    assert store.audit(decision="approved")[0].actor == "alice"

    assert store.get("s", "a") == Posterior()
    store.put("s", "a", Posterior(alpha=3, beta=2, successes=2, failures=1))
    store.put("s", "a", Posterior(alpha=4, beta=2, successes=3, failures=1))
    assert store.posteriors() == [("s", "a", Posterior(alpha=4, beta=2, successes=3,
                                                       failures=1))]
    store.put("s", "b", Posterior(beta=4, failures=3, consecutive_failures=3, disabled=True))
    assert store.set_disabled("s", "b", False) == Posterior(beta=4, failures=3)


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    services, server = start_fake()
    yield services
    server.shutdown()
    server.server_close()


def _incoming(incident) -> Incoming:  # type: ignore[no-untyped-def]
    return Incoming(topic="i", value=encode_incident(incident), key=incident.id.encode())


def test_act_stage_notifies_once_and_runs_an_approved_action(
    tmp_path: Path, fake: FakeServices, broker: str
) -> None:
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    upgrade(url)
    store = Store(create_engine(url))
    settings = NotifySettings(
        slack=[SlackDestinationSettings(webhook_url=fake.url(SLACK_PATH), rate_per_s=100)],
        pagerduty=[PagerDutyDestinationSettings(routing_key="R" * 32, url=fake.url(PD_PATH))],
        routes=[RouteSettings(destinations=["slack"]),
                RouteSettings(destinations=["pagerduty"], min_severity="critical")],
    )
    client = httpx.Client(timeout=2)
    notifier = build_notifier(settings, store, "http://aiops.test", client)
    assert notifier is not None
    supervisor = ProcessSupervisor({"payments": [sys.executable, "-c",
                                                 "import time; time.sleep(60)"]})
    supervisor.scale("payments", 1)
    rstore = RemediationStore(store.engine)
    remediator = Remediator(parse_runbooks(BOOK), {"process": ProcessExecutor(supervisor)},
                            Guards(), ThompsonLearner(rstore, random.Random(0)), rstore,
                            rstore, dry_run=False)
    stage = ActStage(TOPICS, notifier, remediator, store)
    try:
        opened = make_incident("inc-7")
        # the correlate stage stores the change with its notification rows; act delivers
        store.save_incident(opened, notifier.messages(opened))
        result = stage.handle([_incoming(opened)])
        [pending] = [decode_action(r.value) for r in result.outputs]
        assert pending.status.value == "pending_approval" and pending.target == "payments"
        assert fake.slack_keys() == {"inc-7:open:0": 1} and set(fake.pd_keys()) == {
            "inc-7:trigger"}
        # The Slack message links to the approval.
        assert "/ui/incidents/inc-7#remediation" in str(fake.slack[0])  # approve on its page

        # A restarted stage (fresh memory) given the same input again repeats nothing.
        again = ActStage(TOPICS, notifier, remediator.__class__(
            parse_runbooks(BOOK), {"process": ProcessExecutor(supervisor)}, Guards(),
            ThompsonLearner(rstore, random.Random(0)), rstore, rstore, dry_run=False), store)
        assert again.handle([_incoming(opened)]).outputs == []
        assert fake.slack_keys() == {"inc-7:open:0": 1} and len(fake.pagerduty) == 1

        api = TestClient(create_api(ApiDeps(
            settings=ApiSettings(), store=store,
            producer=EventProducer(KafkaConfig(bootstrap_servers=broker)), topics=TOPICS,
            telemetry=Telemetry(CollectorRegistry()))))
        listed = api.get("/api/v1/approvals", params={"incident_id": "inc-7"}).json()
        assert [a["status"] for a in listed["approvals"]] == ["pending"]
        before = supervisor.pids("payments")
        ok = api.post(f"/api/v1/approvals/{pending.id}/approve", json={"actor": "alice"})
        assert ok.status_code == 200 and ok.json()["status"] == "approved"
        assert api.post(f"/api/v1/approvals/{pending.id}/reject").status_code == 409
        assert api.post("/api/v1/approvals/nope/approve").status_code == 404

        [applied] = [decode_action(r.value) for r in stage.idle(0.0)]
        assert applied.status.value == "succeeded" and "approved by alice" in applied.reason
        assert supervisor.pids("payments") != before

        resolved = make_incident("inc-7", IncidentStatus.RESOLVED, version=2)
        store.save_incident(resolved, notifier.messages(resolved))
        [verified] = [decode_action(r.value) for r in stage.handle([_incoming(resolved)]).outputs]
        assert "resolved" in verified.reason
        assert fake.slack_keys()["inc-7:resolved:0"] == 1
        assert fake.pd_incidents == {"inc-7": "resolved"}

        trail = api.get("/api/v1/audit", params={"incident_id": "inc-7"}).json()["entries"]
        assert [e["decision"] for e in trail][::-1] == [
            "pending_approval", "approved", "applied", "verified"]
        assert trail[-1]["actor"] == "engine" and trail[-2]["actor"] == "alice"
        learned = api.get("/api/v1/learning").json()["posteriors"]
        assert learned == [{"signature": "payments|HighLatency", "action": "restart",
                            "mean": 0.6667, "alpha": 2.0, "beta": 1.0, "successes": 1,
                            "failures": 0, "consecutive_failures": 0, "disabled": False}]
        assert [a["id"] for a in api.get("/api/v1/actions").json()["actions"]] == [pending.id]
    finally:
        supervisor.stop_all()
        client.close()


def test_kill_switch_thrown_through_the_api_stops_the_next_action(
    tmp_path: Path, broker: str
) -> None:
    url = f"sqlite:///{tmp_path / 'aiops.db'}"
    upgrade(url)
    store = Store(create_engine(url))
    rstore = RemediationStore(store.engine)
    supervisor = ProcessSupervisor({"payments": [sys.executable, "-c",
                                                 "import time; time.sleep(60)"]})
    supervisor.scale("payments", 2)
    book = BOOK.replace(", requires_approval: true", "")
    remediator = Remediator(parse_runbooks(book), {"process": ProcessExecutor(supervisor)},
                            Guards(), ThompsonLearner(rstore, random.Random(0)), rstore,
                            rstore, dry_run=False, kill_switch=rstore.kill_switch)
    api = TestClient(create_api(ApiDeps(
        settings=ApiSettings(), store=store,
        producer=EventProducer(KafkaConfig(bootstrap_servers=broker)), topics=TOPICS,
        telemetry=Telemetry(CollectorRegistry()))))
    try:
        assert api.get("/api/v1/remediation/kill-switch").json()["enabled"] is False
        thrown = api.put("/api/v1/remediation/kill-switch",
                         json={"enabled": True, "actor": "carol", "note": "bad deploy day"})
        assert thrown.status_code == 200
        before = supervisor.pids("payments")
        [refused] = remediator.handle(make_incident("inc-9"))
        assert refused.status.value == "refused" and "kill switch" in refused.reason
        assert supervisor.pids("payments") == before
        api.put("/api/v1/remediation/kill-switch", json={"enabled": False, "actor": "carol"})
        [applied] = remediator.handle(make_incident("inc-10"))
        assert applied.status.value == "succeeded"
        trail = api.get("/api/v1/audit").json()["entries"]
        switches = [(e["decision"], e["actor"]) for e in trail if e["target"] == "*"]
        assert switches == [("kill_switch_off", "carol"), ("kill_switch_on", "carol")]
    finally:
        supervisor.stop_all()

