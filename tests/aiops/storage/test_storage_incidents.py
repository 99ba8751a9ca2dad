from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import replace

import pytest
import sqlalchemy as sa

from aiops.model import Incident, IncidentStatus, NotFoundError
from aiops.storage import Store
from aiops.storage.rows import members_t, services_t, timeline_t

MakeIncident = Callable[..., Incident]
T0 = 1_795_392_000.0


def test_round_trip_returns_an_equal_incident(store: Store, make_incident: MakeIncident) -> None:
    incident = make_incident(status=IncidentStatus.ACKNOWLEDGED, version=3)
    assert store.save_incident(incident) is True
    assert store.get_incident(incident.id) == incident


def test_round_trip_of_a_resolved_incident_keeps_resolved_at(
    store: Store, make_incident: MakeIncident
) -> None:
    incident = make_incident(status=IncidentStatus.RESOLVED, version=2)
    store.save_incident(incident)
    got = store.get_incident(incident.id)
    assert got == incident
    assert got.resolved_at == T0 + 300.5


def test_missing_incident_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as err:
        store.get_incident("nope")
    assert (err.value.kind, err.value.ident) == ("incident", "nope")


def test_newer_version_replaces_older(store: Store, make_incident: MakeIncident) -> None:
    assert store.save_incident(make_incident(version=1))
    newer = make_incident(version=2, status=IncidentStatus.ACKNOWLEDGED)
    assert store.save_incident(newer) is True
    assert store.get_incident("inc-1") == newer


def test_stale_and_duplicate_versions_are_ignored(
    store: Store, make_incident: MakeIncident
) -> None:
    v2 = make_incident(version=2, status=IncidentStatus.ACKNOWLEDGED)
    assert store.save_incident(v2)
    assert store.save_incident(v2) is False  # redelivery
    stale = make_incident(version=1, services=("search",))
    assert store.save_incident(stale) is False  # out of order
    assert store.get_incident("inc-1") == v2
    # the stale write touched no child rows either
    assert store.list_incidents(service="search") == []
    assert [i.id for i in store.list_incidents(service="payments")] == ["inc-1"]


def test_update_replaces_membership_services_and_timeline(
    store: Store, engine: sa.Engine, make_incident: MakeIncident, make_alert: Callable[..., object]
) -> None:
    store.save_incident(make_incident(version=1, services=("checkout", "payments")))
    shrunk = make_incident(version=2, services=("checkout",), status=IncidentStatus.RESOLVED)
    store.save_incident(shrunk)
    with engine.connect() as conn:
        members = conn.execute(sa.select(members_t.c.fingerprint)).scalars().all()
        services = conn.execute(sa.select(services_t.c.service)).scalars().all()
        timeline = conn.execute(
            sa.select(timeline_t.c.seq, timeline_t.c.event).order_by(timeline_t.c.seq)
        ).all()
    assert members == [a.fingerprint for a in shrunk.alerts]
    assert services == ["checkout"]
    assert [tuple(r) for r in timeline] == [(0, "opened"), (1, "resolved")]


def test_saving_an_incident_stores_its_alerts(store: Store, make_incident: MakeIncident) -> None:
    incident = make_incident()
    store.save_incident(incident)
    for alert in incident.alerts:
        assert store.get_alert(alert.fingerprint) == alert


def test_incident_for_alert_finds_the_newest_incident(
    store: Store, make_incident: MakeIncident, make_alert: Callable[..., object]
) -> None:
    alert = make_alert("cart")
    old = make_incident("inc-old", services=("cart",), alerts=(alert,), opened_at=T0)
    new = make_incident("inc-new", services=("cart",), alerts=(alert,), opened_at=T0 + 3600)
    store.save_incident(new)
    store.save_incident(old)
    found = store.incident_for_alert(alert.fingerprint)  # type: ignore[attr-defined]
    assert found is not None and found.id == "inc-new"
    assert store.incident_for_alert("0000000000000000") is None


@pytest.fixture
def many(store: Store, make_incident: MakeIncident) -> Store:
    specs = [
        ("a", IncidentStatus.OPEN, ("checkout",), "critical", T0),
        ("b", IncidentStatus.ACKNOWLEDGED, ("payments", "checkout"), "warning", T0 + 10),
        ("c", IncidentStatus.RESOLVED, ("search",), "critical", T0 + 20),
        ("d", IncidentStatus.OPEN, ("search", "payments"), "info", T0 + 30),
        ("e", IncidentStatus.RESOLVED, ("checkout",), "warning", T0 + 40),
    ]
    for ident, status, services, severity, opened in specs:
        store.save_incident(
            make_incident(
                ident, status=status, services=services, severity=severity, opened_at=opened
            )
        )
    return store


def _ids(incidents: list[Incident]) -> list[str]:
    return [i.id for i in incidents]


def test_list_is_newest_first_with_paging(many: Store) -> None:
    assert _ids(many.list_incidents()) == ["e", "d", "c", "b", "a"]
    assert _ids(many.list_incidents(limit=2)) == ["e", "d"]
    assert _ids(many.list_incidents(limit=2, offset=2)) == ["c", "b"]
    assert _ids(many.list_incidents(offset=10)) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": IncidentStatus.OPEN}, ["d", "a"]),
        ({"status": "resolved"}, ["e", "c"]),
        ({"service": "checkout"}, ["e", "b", "a"]),
        ({"service": "payments", "status": "open"}, ["d"]),
        ({"severity": "critical"}, ["c", "a"]),
        ({"since": T0 + 10}, ["e", "d", "c", "b"]),
        ({"until": T0 + 20}, ["b", "a"]),
        ({"since": T0 + 10, "until": T0 + 30, "service": "search"}, ["c"]),
        ({"service": "nowhere"}, []),
    ],
)
def test_list_filters(many: Store, filters: dict[str, object], expected: list[str]) -> None:
    assert _ids(many.list_incidents(**filters)) == expected  # type: ignore[arg-type]


def test_open_incidents_are_open_and_acknowledged_oldest_first(many: Store) -> None:
    assert _ids(many.open_incidents()) == ["a", "b", "d"]


def test_resolving_removes_an_incident_from_open_incidents(
    many: Store, make_incident: MakeIncident
) -> None:
    current = many.get_incident("a")
    many.save_incident(replace(current, status=IncidentStatus.RESOLVED, version=2))
    assert _ids(many.open_incidents()) == ["b", "d"]


def test_concurrent_writers_keep_the_newest_version(
    store: Store, make_incident: MakeIncident
) -> None:
    """Two correlator workers briefly owning one partition (a rebalance) race on one incident:
    whatever the interleaving, the newest version wins and every version is written once."""
    versions = [
        make_incident(
            version=v,
            status=IncidentStatus.ACKNOWLEDGED if v % 2 else IncidentStatus.OPEN,
            services=("checkout", "payments", f"svc-{v}"),
        )
        for v in range(1, 31)
    ]
    written: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(3)

    def worker(seed: int) -> None:
        order = versions[:]
        random.Random(seed).shuffle(order)
        barrier.wait()
        for incident in order:
            if store.save_incident(incident):
                with lock:
                    written.append(incident.version)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert store.get_incident("inc-1") == versions[-1]
    assert len(written) == len(set(written))
    assert 30 in written
    assert _ids(store.list_incidents(service="svc-30")) == ["inc-1"]
    assert store.list_incidents(service="svc-29") == []
