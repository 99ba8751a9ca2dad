from __future__ import annotations

from collections.abc import Callable

import pytest

from aiops.model import Alert, AlertStatus, NotFoundError
from aiops.storage import Store

MakeAlert = Callable[..., Alert]
T0 = 1_795_392_000.0


def test_upsert_and_get_round_trip(store: Store, make_alert: MakeAlert) -> None:
    firing = make_alert("cart", ends_at=T0 + 300.001)
    store.upsert_alerts([firing])
    assert store.get_alert(firing.fingerprint) == firing


def test_missing_alert_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_alert("ffffffffffffffff")


def test_resolution_replaces_firing_but_a_late_firing_copy_does_not_reopen(
    store: Store, make_alert: MakeAlert
) -> None:
    firing = make_alert("cart")
    resolved = make_alert("cart", status="resolved", ends_at=T0 + 120)
    store.upsert_alerts([firing])
    store.upsert_alerts([resolved])
    assert store.get_alert(firing.fingerprint).status is AlertStatus.RESOLVED
    store.upsert_alerts([firing])  # redelivered, older news
    assert store.get_alert(firing.fingerprint) == resolved


def test_a_new_occurrence_replaces_a_resolved_one(store: Store, make_alert: MakeAlert) -> None:
    store.upsert_alerts([make_alert("cart", status="resolved", ends_at=T0 + 120)])
    again = make_alert("cart", starts_at=T0 + 600)
    store.upsert_alerts([again])
    assert store.get_alert(again.fingerprint) == again
    store.upsert_alerts([make_alert("cart", starts_at=T0)])  # the older occurrence
    assert store.get_alert(again.fingerprint) == again


def test_a_batch_may_repeat_an_alert(store: Store, make_alert: MakeAlert) -> None:
    first = make_alert("cart")
    later = make_alert("cart", ends_at=T0 + 240)
    resolved = make_alert("cart", status="resolved", ends_at=T0 + 100)
    store.upsert_alerts([first, resolved, later, make_alert("search")])
    assert store.get_alert(first.fingerprint) == resolved
    assert store.get_alert(make_alert("search").fingerprint).service == "search"


def test_empty_batch_is_a_no_op(store: Store) -> None:
    store.upsert_alerts([])
