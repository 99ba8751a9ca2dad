from __future__ import annotations

from dataclasses import replace

from aiops.model import ActionStatus, RemediationAction
from aiops.storage import Store

T0 = 1_795_392_000.0


def _action(ident: str, incident: str, ts: float) -> RemediationAction:
    return RemediationAction(
        id=ident,
        incident_id=incident,
        runbook="restart-on-oom",
        kind="k8s.rollout_restart",
        target="deployment/cart",
        params={"namespace": "shop", "replicas": 3, "nested": {"grace": 30.5}},
        status=ActionStatus.DRY_RUN,
        dry_run=True,
        reason="memory saturation on cart",
        ts=ts,
    )


def test_save_and_list_round_trip(store: Store) -> None:
    action = _action("act-1", "inc-1", T0)
    store.save_action(action)
    assert store.list_actions() == [action]


def test_save_is_an_upsert_by_id(store: Store) -> None:
    action = _action("act-1", "inc-1", T0)
    store.save_action(action)
    done = replace(action, status=ActionStatus.SUCCEEDED, dry_run=False, reason="restarted")
    store.save_action(done)
    assert store.list_actions() == [done]


def test_list_filters_by_incident_newest_first(store: Store) -> None:
    for ident, incident, ts in [
        ("a1", "inc-1", T0),
        ("a2", "inc-2", T0 + 1),
        ("a3", "inc-1", T0 + 2),
        ("a4", "inc-1", T0 + 3),
    ]:
        store.save_action(_action(ident, incident, ts))
    assert [a.id for a in store.list_actions("inc-1")] == ["a4", "a3", "a1"]
    assert [a.id for a in store.list_actions(limit=2)] == ["a4", "a3"]
    assert store.list_actions("inc-9") == []
