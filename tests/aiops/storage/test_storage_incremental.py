"""Incident versions written as deltas (what changed since the version before) read back as
the whole incident: every member alert with its state, the whole timeline, in order."""

from __future__ import annotations

import sqlalchemy as sa

from aiops.model import Alert, AlertStatus
from aiops.storage import Store
from aiops.storage.incident_rows import IncidentDelta
from aiops.storage.rows import members_t
from correlator.engine import TopologyCorrelator
from correlator.state import TIMELINE_KEPT


def _alert(i: int, ends: float | None = None) -> Alert:
    return Alert({"alertname": f"Grow{i}", "service": "cart", "severity": "critical"},
                 {"summary": f"Grow{i} on cart"}, starts_at=1_000.0 + i * 0.01, ends_at=ends,
                 status=AlertStatus.FIRING if ends is None else AlertStatus.RESOLVED)


def test_deltas_add_up_to_the_whole_incident(store: Store) -> None:
    tracked, whole = TopologyCorrelator(), TopologyCorrelator()
    tracked.track_deltas()
    batches = [[_alert(i) for i in range(k, k + 30)] for k in range(0, 300, 30)]
    batches.append([_alert(i, ends=1_010.0) for i in range(0, 300, 7)])  # some resolve
    versions = 0
    for batch in batches:
        whole.process_batch(batch)
        for incident in tracked.process_batch(batch):
            delta = tracked.take_delta(incident)
            assert delta is not None and len(delta.alerts) <= 50  # the changes, not all
            assert store.save_incident(incident, delta=IncidentDelta(
                delta.alerts, delta.removed, delta.timeline))
            versions += 1
    (expected,) = whole.open_incidents()
    (held,) = tracked.open_incidents()
    assert len(held.timeline) < len(expected.timeline)  # trimmed in memory...
    assert len(expected.timeline) > 2 * TIMELINE_KEPT
    stored = store.get_incident(expected.id)
    assert stored == expected  # ...and whole in the store
    assert versions == len(batches)
    assert sum(not a.firing for a in stored.alerts) == len(range(0, 300, 7))
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(members_t)).scalar() == 300


def test_a_restored_incident_goes_on_with_deltas(store: Store) -> None:
    first = TopologyCorrelator()
    first.track_deltas()
    for incident in first.process_batch([_alert(i) for i in range(40)]):
        store.save_incident(incident, delta=_delta(first, incident))
    again = TopologyCorrelator()  # a restart: reload from the store, go on
    again.track_deltas()
    again.restore(store.open_incidents())
    for incident in again.process_batch([_alert(i) for i in range(40, 60)]
                                        + [_alert(3, ends=1_005.0)]):
        delta = _delta(again, incident)
        assert len(delta.alerts) == 21
        store.save_incident(incident, delta=delta)
    (held,) = again.open_incidents()
    stored = store.get_incident(held.id)
    assert [a.fingerprint for a in stored.alerts] == [a.fingerprint for a in held.alerts]
    assert stored.alerts == held.alerts and stored.timeline[-1] == held.timeline[-1]
    assert stored.timeline == held.timeline and len(stored.timeline) > 60


def _delta(c: TopologyCorrelator, incident: object) -> IncidentDelta:
    from aiops.model import Incident

    assert isinstance(incident, Incident)
    d = c.take_delta(incident)
    assert d is not None
    return IncidentDelta(d.alerts, d.removed, d.timeline)
