"""Message rendering against the fake services' validation of Slack and PagerDuty limits."""

from __future__ import annotations

import json

import httpx

from aiops.model import IncidentStatus, RootCause
from aiops.notify.links import Links
from aiops.notify.pagerduty import PagerDutyEvents, pagerduty_event
from aiops.notify.slack import SlackWebhook, slack_message
from aiops.notify.webhook import SignedWebhook, verify
from tests.aiops.notify.conftest import T0, make_incident
from tests.aiops.notify.fakes import (
    HOOK_PATH,
    PD_PATH,
    SECRET,
    SLACK_PATH,
    FakeServices,
    pagerduty_errors,
    slack_errors,
)

LINKS = Links("http://aiops.test:8080", "https://wiki.test/runbooks/{service}",
              "https://grafana.test/d/svc?var-service={service}")
RK = "R" * 32


def test_slack_message_has_every_part_and_passes_slack_validation(
    fake: FakeServices, client: httpx.Client
) -> None:
    incident = make_incident()
    slack = SlackWebhook("slack", fake.url(SLACK_PATH), client, LINKS)
    slack.deliver(slack.render(incident, "inc-1:open"), "inc-1:open", T0)
    assert fake.rejected == []
    [msg] = fake.slack
    text = json.dumps(msg)
    assert msg["blocks"][0]["type"] == "header"
    assert "[CRITICAL] checkout degraded" in msg["blocks"][0]["text"]["text"]
    assert "payments" in text and "latency z=6.1" in text and "0.88" in text
    urls = [e["url"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "http://aiops.test:8080/ui/incidents/inc-1" in urls  # the console's page
    assert "https://wiki.test/runbooks/payments" in urls
    assert "https://grafana.test/d/svc?var-service=payments" in urls
    assert "http://aiops.test:8080/ui/incidents/inc-1#remediation" in urls
    assert msg["text"].startswith("Open [CRITICAL]")
    assert fake.slack_keys() == {"inc-1:open": 1}


def test_slack_message_respects_block_kit_limits_for_huge_incidents() -> None:
    base = make_incident(services=tuple(f"svc-{i}" for i in range(300)))
    huge = base.__class__(**{
        **{f: getattr(base, f) for f in base.__slots__},  # type: ignore[attr-defined]
        "title": "x" * 5000,
        "root_causes": tuple(RootCause(f"s{i}", 0.5, ("e" * 900,) * 5) for i in range(100)),
    })
    msg = slack_message(huge, LINKS.for_incident(huge), "k" * 200)
    assert slack_errors(msg) == []
    assert len(msg["blocks"]) <= 50
    assert len(msg["blocks"][0]["text"]["text"]) == 150
    # The unbounded parts were cut, not dropped: fallback text and header still say what.
    assert msg["text"].startswith("Open [CRITICAL] xxx")


def test_slack_mrkdwn_control_characters_are_escaped() -> None:
    incident = make_incident(services=("a<b>&c",))
    msg = slack_message(incident, {}, "k")
    mrkdwn = json.dumps([msg["text"], msg["blocks"][1:]])  # all but the plain_text header
    assert "a&lt;b&gt;&amp;c" in mrkdwn and "a<b>" not in mrkdwn


def test_pagerduty_trigger_ack_resolve_follow_the_incident(
    fake: FakeServices, client: httpx.Client
) -> None:
    pd = PagerDutyEvents("pd", RK, client, LINKS, url=fake.url(PD_PATH))
    for status in (IncidentStatus.OPEN, IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED):
        incident = make_incident(status=status)
        pd.deliver(pd.render(incident, f"inc-1:{status}"), "k", T0)
    assert fake.rejected == []
    assert [e["event_action"] for e in fake.pagerduty] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in fake.pagerduty} == {"inc-1"}
    trigger = fake.pagerduty[0]
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "payments"
    assert trigger["payload"]["custom_details"]["root_causes"][0]["evidence"] == [
        "latency z=6.1", "errors x3"]
    assert {link["href"] for link in trigger["links"]} >= {
        "http://aiops.test:8080/ui/incidents/inc-1"}
    assert fake.pd_incidents == {"inc-1": "resolved"}


def test_pagerduty_summary_and_severity_stay_valid() -> None:
    incident = make_incident(severity="page")
    incident = incident.__class__(**{
        **{f: getattr(incident, f) for f in incident.__slots__},  # type: ignore[attr-defined]
        "title": "y" * 3000,
    })
    event = pagerduty_event(incident, RK, {})
    assert pagerduty_errors(event) == []
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["severity"] == "error"


def test_pagerduty_rejects_what_the_real_service_rejects() -> None:
    assert pagerduty_errors({"routing_key": "short", "event_action": "trigger",
                             "payload": {"summary": "s", "source": "x",
                                         "severity": "fatal"}}) == [
        "'routing_key' must be a 32 character string", "'payload.severity' is invalid"]


def test_webhook_is_signed_and_carries_an_idempotency_key(
    fake: FakeServices, client: httpx.Client
) -> None:
    hook = SignedWebhook("hook", fake.url(HOOK_PATH), SECRET, client, LINKS)
    payload = hook.render(make_incident(), "inc-1:open")
    hook.deliver(payload, "inc-1:open", T0)
    [(headers, body)] = fake.hooks
    assert headers["idempotency-key"] == "inc-1:open"
    assert verify(SECRET, headers["x-aiops-timestamp"], payload, headers["x-aiops-signature"])
    assert body["event"] == "incident.open" and body["incident"]["id"] == "inc-1"
    assert body["incident"]["schema"] == "aiops.incident/v1"


def test_incidents_never_raised_are_routed_nowhere() -> None:
    from dataclasses import replace

    from aiops.model import TimelineEntry
    from aiops.notify.routing import Route, Router

    router = Router([Route(("slack", "pagerduty"))])
    assert router.destinations(make_incident()) == ["slack", "pagerduty"]
    assert router.destinations(make_incident(status=IncidentStatus.PENDING)) == []
    dropped = replace(make_incident(status=IncidentStatus.RESOLVED), timeline=(
        TimelineEntry(T0, "pending", IncidentStatus.PENDING),
        TimelineEntry(T0 + 90, "transient", IncidentStatus.RESOLVED)))
    assert router.destinations(dropped) == []  # cleared before anyone was told
    raised = replace(dropped, timeline=(
        TimelineEntry(T0, "opened", IncidentStatus.OPEN),
        TimelineEntry(T0 + 90, "resolved", IncidentStatus.RESOLVED)))
    assert router.destinations(raised) == ["slack", "pagerduty"]
