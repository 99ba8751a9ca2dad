"""Events are logged where they happen, with their fields, and counted on the registry:
notifications (sent, failed, retried, dropped) against the fake services, incident changes
from the real correlate stage, remediation decisions from the real remediator."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from aiops.app import Engine
from aiops.logsetup import JsonFormatter, count_events, stop_counting
from aiops.model import Alert
from aiops.notify.dispatcher import OutboxDispatcher, RetryPolicy
from aiops.notify.links import Links
from aiops.notify.outbox import OutboxNotifier
from aiops.notify.routing import Route, Router
from aiops.notify.webhook import SignedWebhook
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.storage import Store
from aiops.wire.shapes import encode_alert
from streams.stage import Incoming
from tests.aiops.notify.conftest import Clock, make_incident
from tests.aiops.notify.fakes import HOOK_PATH, SECRET, FakeServices

LINKS = Links("http://aiops.test")


def _events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None)]


def _count(registry: CollectorRegistry, event: str) -> float:
    return registry.get_sample_value("aiops_events_total", {"event": event}) or 0.0


def test_notification_events(store: Store, clock: Clock, fake: FakeServices,
                             client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    counter = count_events(registry)
    try:
        fake.script(HOOK_PATH, 503, times=1)
        dests = {"hook": SignedWebhook("hook", fake.url(HOOK_PATH), SECRET, client, LINKS),
                 "dead": SignedWebhook("dead", "http://127.0.0.1:9/x", SECRET, client, LINKS)}
        dispatcher = OutboxDispatcher(store, dests, clock=clock, rng=random.Random(1),
                                      policy=RetryPolicy(base_s=1.0, max_attempts=2))
        notifier = OutboxNotifier(store, Router([Route(tuple(dests))]), dests, dispatcher)
        caplog.set_level(logging.INFO)
        store.enqueue(notifier.messages(make_incident()))  # as the correlate stage decides
        notifier.poll()
        for _ in range(4):
            clock.now += 10
            notifier.poll()
    finally:
        stop_counting(counter)
    by_event: dict[str, list[logging.LogRecord]] = {}
    for record in _events(caplog):
        by_event.setdefault(record.event, []).append(record)  # type: ignore[attr-defined]
    assert [r.destination for r in by_event["notification.sent"]] == ["notify:hook"]  # type: ignore[attr-defined]
    assert {r.destination for r in by_event["notification.failed"]} == {"notify:hook",  # type: ignore[attr-defined]
                                                                       "notify:dead"}
    assert len(by_event["notification.retried"]) == 2  # hook once, dead once
    [dropped] = by_event["notification.dropped"]
    assert dropped.destination == "notify:dead" and "gave up" in dropped.error  # type: ignore[attr-defined]
    for name, records in by_event.items():
        assert _count(registry, name) == len(records)
    line = orjson.loads(JsonFormatter().format(dropped))
    assert line["event"] == "notification.dropped" and line["key"] == "inc-1:open:0"
    assert line["level"] == "error" and line["destination"] == "notify:dead"


def test_incident_events_from_the_correlate_stage(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'stage.db'}"
    engine = Engine.build(settings, bootstrap_servers="")
    stage = engine.stage("correlate")
    assert isinstance(stage, CorrelateStage)
    stage.start()
    stage.published()
    caplog.set_level(logging.INFO)
    down = Alert({"alertname": "ServiceDown", "service": "cart", "severity": "critical"},
                 {}, 1_790_000_000.0)
    stage.handle([Incoming(engine.topics.alerts, encode_alert(down), offset=0)])
    [opened] = [r for r in _events(caplog) if r.event.startswith("incident.")]  # type: ignore[attr-defined]
    assert opened.event == "incident.opened" and opened.status == "open"  # type: ignore[attr-defined]
    assert opened.version >= 1 and opened.services == ["cart"]  # type: ignore[attr-defined]
