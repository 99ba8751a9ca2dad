"""Snapshots split members into alerts and change events in member order, whatever happened
to them (added, updated, moved out), without filtering every member on every version."""

from __future__ import annotations

import random

from aiops.model import Alert, AlertStatus, IncidentStatus
from correlator.state import IncidentState


def _alert(i: int, ts: float, firing: bool = True) -> Alert:
    return Alert({"alertname": f"A{i}", "service": f"svc{i % 7}"}, {"score": str(i % 5)},
                 starts_at=ts, ends_at=None if firing else ts + 5,
                 status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED)


def _expected(state: IncidentState) -> tuple[tuple[Alert, ...], tuple[Alert, ...]]:
    kinds = state.member_kind
    return (tuple(a for fp, a in state.members.items() if kinds[fp] != "change"),
            tuple(a for fp, a in state.members.items() if kinds[fp] == "change"))


def test_snapshot_lists_follow_adds_updates_and_class_changes() -> None:
    rnd = random.Random(7)
    state = IncidentState(id="inc-1", status=IncidentStatus.OPEN, opened_at=0.0,
                          updated_at=0.0, first_ts=0.0, last_ts=0.0)
    held: dict[int, Alert] = {}
    for step in range(400):
        i = rnd.randrange(60)
        if i in held and rnd.random() < 0.1:
            state.remove_member(held.pop(i).fingerprint)  # moved to another incident
            continue
        if i in held and rnd.random() < 0.6:
            alert = _alert(i, held[i].starts_at + step, firing=rnd.random() < 0.5)
            state.member_changed(alert.fingerprint, alert, float(step))
        else:
            alert = _alert(i, float(step))
            kind = "change" if rnd.random() < 0.3 else "symptom"
            state.add_member(alert, f"svc{i % 7}", kind, inhibited=False)
        held[i] = alert
        if step % 9 == 0:
            snap = state.snapshot()
            assert (snap.alerts, snap.changes) == _expected(state)
            assert snap.services == tuple(state.nodes)
    snap = state.snapshot()
    assert (snap.alerts, snap.changes) == _expected(state)
    assert {a.fingerprint for a in (*snap.alerts, *snap.changes)} == set(state.members)
