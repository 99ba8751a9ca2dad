"""The outbox notifier and dispatcher against the fake services: retries, limits, dedup."""

from __future__ import annotations

import random

import httpx

from aiops.model import IncidentStatus
from aiops.notify.dispatcher import PARKED_AT, Destination, OutboxDispatcher, RetryPolicy
from aiops.notify.links import Links
from aiops.notify.outbox import OutboxNotifier
from aiops.notify.pagerduty import PagerDutyEvents
from aiops.notify.routing import Route, Router
from aiops.notify.slack import SlackHistory, SlackWebhook
from aiops.notify.webhook import SignedWebhook
from aiops.storage import Store
from aiops.storage.delivery import claim
from tests.aiops.notify.conftest import Clock, make_incident
from tests.aiops.notify.fakes import (
    HISTORY_PATH,
    HOOK_PATH,
    PD_PATH,
    SECRET,
    SLACK_PATH,
    TOKEN,
    FakeServices,
)

LINKS = Links("http://aiops.test")


def _destinations(fake: FakeServices, client: httpx.Client, *, history: bool = False
                  ) -> dict[str, Destination]:
    hist = SlackHistory(client, TOKEN, "C1", fake.url(HISTORY_PATH).rsplit("/", 1)[0]) \
        if history else None
    return {
        "slack": SlackWebhook("slack", fake.url(SLACK_PATH), client, LINKS, history=hist),
        "pd": PagerDutyEvents("pd", "R" * 32, client, LINKS, url=fake.url(PD_PATH)),
        "hook": SignedWebhook("hook", fake.url(HOOK_PATH), SECRET, client, LINKS),
    }


def _notifier(store: Store, clock: Clock, dests: dict[str, Destination],
              routes: list[Route] | None = None,
              rates: dict[str, tuple[float, float]] | None = None) -> OutboxNotifier:
    dispatcher = OutboxDispatcher(store, dests, rates=rates, clock=clock,
                                  policy=RetryPolicy(base_s=1.0, max_attempts=4, lease_s=30),
                                  rng=random.Random(1))
    return OutboxNotifier(store, Router(routes or [Route(tuple(dests))]), dests, dispatcher)


def test_each_state_reaches_each_destination_once_despite_redelivery(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    dests = _destinations(fake, client)
    notifier = _notifier(store, clock, dests)
    for _ in range(2):  # the second pass is a redelivery of the same incident versions
        for version, status in enumerate(IncidentStatus, start=1):
            store.enqueue(notifier.messages(make_incident(status=status, version=version)))
            notifier.poll()
    # A restarted worker (new notifier, same database) redelivering again adds nothing.
    again = _notifier(store, clock, dests)
    store.enqueue(again.messages(make_incident()))
    again.poll()
    assert fake.rejected == []
    assert fake.slack_keys() == {"inc-1:open:0": 1, "inc-1:acknowledged:0": 1,
                                 "inc-1:resolved:0": 1}
    assert sorted(fake.pd_keys().values()) == [1, 1, 1]
    assert sorted(fake.hook_keys().values()) == [1, 1, 1]
    assert store.pending(now=clock.now + 1e6) == []


def test_routing_by_severity_service_and_team(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    routes = [
        Route(("pd",), min_severity="critical"),
        Route(("slack",), services=frozenset({"search"})),
        Route(("hook",), teams=frozenset({"platform"})),
    ]
    notifier = _notifier(store, clock, _destinations(fake, client), routes)
    store.enqueue(notifier.messages(make_incident("a", severity="warning", services=("search",))))
    store.enqueue(notifier.messages(make_incident("b", severity="critical", services=("cart",),
                                                  team="platform")))
    notifier.poll()
    assert set(fake.slack_keys()) == {"a:open:0"}
    assert set(fake.pd_keys()) == {"b:trigger"}
    assert set(fake.hook_keys()) == {"b:open:0"}


def test_429_honours_retry_after_and_pauses_the_destination(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    fake.script(PD_PATH, 429, headers={"Retry-After": "7"})
    dests = _destinations(fake, client)
    notifier = _notifier(store, clock, {"pd": dests["pd"]})
    store.enqueue(notifier.messages(make_incident("a")))
    store.enqueue(notifier.messages(make_incident("b")))
    notifier.poll()
    assert fake.requests[PD_PATH] == 1 and fake.pagerduty == []  # b waited behind a
    [row_a, _row_b] = store.pending(now=clock.now + 1e6)
    assert row_a.next_attempt_at == clock.now + 7 and "429" in row_a.last_error
    clock.now += 6.9
    notifier.poll()
    assert fake.requests[PD_PATH] == 1  # still paused: b is due, but the destination is not
    clock.now += 0.2
    notifier.poll()
    assert set(fake.pd_keys()) == {"a:trigger", "b:trigger"}


def test_5xx_and_network_errors_back_off_exponentially_then_give_up(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    fake.script(HOOK_PATH, 503, times=2)
    dead = SignedWebhook("dead", "http://127.0.0.1:9/x", SECRET, client, LINKS)
    dests = {"hook": _destinations(fake, client)["hook"], "dead": dead}
    notifier = _notifier(store, clock, dests)
    store.enqueue(notifier.messages(make_incident()))
    notifier.poll()
    delays: dict[int, float] = {}
    for _ in range(8):
        rows = {r.destination: r for r in store.pending(now=clock.now + 1e6)}
        if not rows:
            break
        if "notify:dead" in rows and rows["notify:dead"].next_attempt_at < PARKED_AT:
            row = rows["notify:dead"]
            delays.setdefault(row.attempts, row.next_attempt_at - clock.now)
        clock.now = min(r.next_attempt_at for r in rows.values())
        notifier.poll()
    assert fake.requests[HOOK_PATH] == 3 and fake.hook_keys() == {"inc-1:open:0": 1}
    # Jittered doubling: each wait in [d/2, d] for d = 1, 2, 4 s; then parked after 4 tries.
    assert [0.5 <= d / 2**i <= 1.0 for i, d in enumerate(list(delays.values())[:3])] == [True] * 3
    [row] = store.pending(now=PARKED_AT)
    assert row.destination == "notify:dead" and "gave up after 4 attempts" in row.last_error


def test_other_4xx_is_not_retried(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    wrong = SignedWebhook("hook", fake.url(HOOK_PATH), "not-the-secret", client, LINKS)
    notifier = _notifier(store, clock, {"hook": wrong})
    store.enqueue(notifier.messages(make_incident()))
    notifier.poll()
    for _ in range(3):
        clock.now += 1000
        notifier.poll()
    assert fake.requests[HOOK_PATH] == 1 and fake.rejected[0][1] == 401
    [row] = store.pending(now=PARKED_AT)
    assert row.last_error.startswith("HTTP 401")


def test_slack_rate_limit_one_message_per_second(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    dests = {"slack": _destinations(fake, client)["slack"]}
    notifier = _notifier(store, clock, dests, rates={"slack": (1.0, 1.0)})
    for i in range(3):
        store.enqueue(notifier.messages(make_incident(f"i{i}")))
    notifier.poll()
    assert len(fake.slack) == 1
    clock.now += 0.5
    notifier.poll()
    assert len(fake.slack) == 1
    clock.now += 0.5
    notifier.poll()
    clock.now += 1.0
    notifier.poll()
    assert list(fake.slack_keys()) == ["i0:open:0", "i1:open:0", "i2:open:0"]


def _crash_after_send(store: Store, clock: Clock, dest: Destination, key: str) -> None:
    """What a worker killed between the destination's answer and mark_sent leaves behind."""
    [row] = [r for r in store.pending(now=clock.now)
             if r.dedup_key == key and r.destination == f"notify:{dest.name}"]
    assert claim(store.engine, row.id, row.attempts, clock.now + 30)
    dest.deliver(row.payload, row.dedup_key, clock.now)


def test_in_doubt_slack_delivery_is_reconciled_from_history(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    dests = _destinations(fake, client, history=True)
    clock.now = __import__("time").time()  # history is filtered by wall-clock message times
    notifier = _notifier(store, clock, {"slack": dests["slack"], "pd": dests["pd"]})
    store.enqueue(notifier.messages(make_incident()))  # written, not yet drained
    _crash_after_send(store, clock, dests["slack"], "inc-1:open:0")
    [pd_row] = [r for r in store.pending(now=clock.now) if r.destination == "notify:pd"]
    assert claim(store.engine, pd_row.id, pd_row.attempts, clock.now + 30)
    dests["pd"].deliver(pd_row.payload, pd_row.dedup_key, clock.now)
    # Restart: within the lease nothing is resent; after it, reconcile or resend by key.
    restarted = _notifier(store, clock, {"slack": dests["slack"], "pd": dests["pd"]})
    restarted.poll()
    assert fake.requests[SLACK_PATH] == 1 and fake.requests[PD_PATH] == 1
    clock.now += 31
    restarted.poll()
    assert restarted.last_report.reconciled == 1
    assert fake.slack_keys() == {"inc-1:open:0": 1}  # found in the channel, not sent again
    assert fake.requests[PD_PATH] == 2 and fake.pd_opened == {"inc-1": 1}  # deduplicated
    assert store.pending(now=clock.now + 1e6) == []


def test_in_doubt_slack_row_never_sent_is_sent_after_reconciling(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    dests = _destinations(fake, client, history=True)
    clock.now = __import__("time").time()
    notifier = _notifier(store, clock, {"slack": dests["slack"]})
    store.enqueue(notifier.messages(make_incident()))
    [row] = store.pending(now=clock.now)
    assert claim(store.engine, row.id, row.attempts, clock.now + 30)  # killed before sending
    clock.now += 31
    notifier.poll()
    assert fake.slack_keys() == {"inc-1:open:0": 1}


def test_a_backlog_of_other_outbox_rows_does_not_starve_notifications(
    store: Store, clock: Clock, fake: FakeServices, client: httpx.Client
) -> None:
    from aiops.storage import OutboxMessage

    store.enqueue(OutboxMessage("topic:incidents", f"x{i}:1", b"{}") for i in range(500))
    notifier = _notifier(store, clock, {"pd": _destinations(fake, client)["pd"]})
    store.enqueue(notifier.messages(make_incident()))
    notifier.poll()
    assert set(fake.pd_keys()) == {"inc-1:trigger"}
    assert len(store.pending("topic:incidents", now=clock.now, limit=1000)) == 500
