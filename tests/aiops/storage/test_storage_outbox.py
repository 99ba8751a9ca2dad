from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from aiops.model import Incident, IncidentStatus, NotFoundError
from aiops.storage import OutboxMessage, Store
from aiops.storage.outbox import OutboxRow

MakeIncident = Callable[..., Incident]
T0 = 1_795_392_000.0


def _msgs(incident: str, state: str, *destinations: str) -> list[OutboxMessage]:
    return [
        OutboxMessage(d, f"{incident}:{state}", f'{{"id":"{incident}","state":"{state}"}}'.encode())
        for d in destinations
    ]


def test_same_destination_and_key_is_stored_once(store: Store) -> None:
    assert store.enqueue(_msgs("inc-1", "open", "slack", "pagerduty")) == 2
    assert store.enqueue(_msgs("inc-1", "open", "slack")) == 0
    assert store.enqueue(_msgs("inc-1", "open", "slack") * 3) == 0
    assert store.enqueue(_msgs("inc-1", "acknowledged", "slack")) == 1
    rows = store.pending()
    assert [(r.destination, r.dedup_key) for r in rows] == [
        ("slack", "inc-1:open"),
        ("pagerduty", "inc-1:open"),
        ("slack", "inc-1:acknowledged"),
    ]


def test_duplicates_within_one_batch_count_once(store: Store) -> None:
    assert store.enqueue(_msgs("inc-1", "open", "slack", "slack", "webhook")) == 2


def test_pending_rows_carry_all_fields(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    store.enqueue(_msgs("inc-1", "open", "slack"))
    (row,) = store.pending("slack")
    assert row == OutboxRow(
        id=row.id,
        destination="slack",
        dedup_key="inc-1:open",
        payload=b'{"id":"inc-1","state":"open"}',
        created_at=clock.now,
        sent_at=None,
        attempts=0,
        last_error="",
        next_attempt_at=clock.now,
    )


def test_pending_is_oldest_first_and_filters_destination(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        clock.now = T0 + n
        store.enqueue(_msgs(f"inc-{n}", "open", "slack", "webhook"))
    slack = store.pending("slack")
    assert [r.dedup_key for r in slack] == [f"inc-{n}:open" for n in range(5)]
    assert [r.dedup_key for r in store.pending("slack", limit=2)] == ["inc-0:open", "inc-1:open"]
    assert len(store.pending()) == 10
    assert store.pending("email") == []


def test_mark_sent_removes_from_pending(store: Store) -> None:
    store.enqueue(_msgs("inc-1", "open", "slack", "webhook"))
    first, second = store.pending()
    store.mark_sent([first.id], now=T0 + 5)
    assert [r.id for r in store.pending()] == [second.id]
    store.mark_sent([])
    # A message once sent is never enqueued again, even after it left the pending list.
    assert store.enqueue(_msgs("inc-1", "open", "slack")) == 0


def test_mark_failed_backs_off_and_counts_attempts(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    store.enqueue(_msgs("inc-1", "open", "slack"))
    store.enqueue(_msgs("inc-2", "open", "slack"))
    first, second = store.pending()
    store.mark_failed(first.id, "503 from slack", next_attempt_at=T0 + 30)
    assert [r.id for r in store.pending(now=T0 + 29)] == [second.id]
    store.mark_failed(first.id, "timeout", next_attempt_at=T0 + 90)
    due = store.pending(now=T0 + 90)
    assert [r.id for r in due] == [first.id, second.id]  # still oldest first once due
    assert (due[0].attempts, due[0].last_error) == (2, "timeout")
    store.mark_sent([first.id], now=T0 + 91)
    store.mark_failed(first.id, "late failure report", next_attempt_at=T0 + 200)
    assert [r.id for r in store.pending(now=T0 + 1000)] == [second.id]


def test_save_incident_writes_outbox_in_the_same_transaction(
    store: Store, make_incident: MakeIncident
) -> None:
    incident = make_incident()
    assert store.save_incident(incident, _msgs(incident.id, "open", "slack", "log"))
    assert len(store.pending()) == 2
    # Redelivery of the same incident message: nothing new anywhere.
    assert store.save_incident(incident, _msgs(incident.id, "open", "slack", "log")) is False
    assert len(store.pending()) == 2
    acked = make_incident(version=2, status=IncidentStatus.ACKNOWLEDGED)
    assert store.save_incident(acked, _msgs(incident.id, "acknowledged", "slack"))
    assert [r.dedup_key for r in store.pending("slack")] == ["inc-1:open", "inc-1:acknowledged"]


def test_stale_incident_enqueues_nothing(store: Store, make_incident: MakeIncident) -> None:
    store.save_incident(make_incident(version=2, status=IncidentStatus.ACKNOWLEDGED))
    assert store.save_incident(make_incident(version=1), _msgs("inc-1", "open", "slack")) is False
    assert store.pending() == []


def test_a_failing_save_leaves_nothing_behind(store: Store, make_incident: MakeIncident) -> None:
    broken = [OutboxMessage("slack", "inc-1:open", None)]  # type: ignore[arg-type]
    with pytest.raises((TypeError, sa.exc.SQLAlchemyError)):
        store.save_incident(make_incident(), broken)
    with pytest.raises(NotFoundError):
        store.get_incident("inc-1")
    assert store.pending() == []


def test_concurrent_redeliveries_enqueue_once(store: Store) -> None:
    results: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def redeliver() -> None:
        barrier.wait()
        for n in range(10):
            new = store.enqueue(_msgs(f"inc-{n}", "open", "slack"))
            with lock:
                results.append(new)

    threads = [threading.Thread(target=redeliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(results) == 10
    assert len(store.pending()) == 10


def test_purge_sent_deletes_only_old_sent_rows(store: Store) -> None:
    store.enqueue(_msgs("inc-1", "open", "slack", "webhook", "log"))
    old, recent, unsent = store.pending()
    store.mark_sent([old.id], now=T0 + 10)
    store.mark_sent([recent.id], now=T0 + 100)
    assert store.purge_sent(before=T0 + 50) == 1
    assert [r.id for r in store.pending()] == [unsent.id]
    # the purged key may be enqueued again; the kept sent one may not
    assert store.enqueue(_msgs("inc-1", "open", "slack", "webhook")) == 1
