"""Silences and the correlator's reload queries, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
import sqlalchemy as sa

from aiops.model import Incident, IncidentStatus, NotFoundError, TimelineEntry
from aiops.silences import SilenceSpec, parse_silence
from aiops.storage import Store
from aiops.storage.silences import SilenceStore
from tests.aiops.storage.conftest import T0


def _silence(ident: str, starts: float, ends: float, *matchers: object) -> SilenceSpec:
    return parse_silence({"matchers": list(matchers or ['service=~"db-.*"']),
                          "startsAt": starts, "endsAt": ends, "createdBy": "alice",
                          "comment": f"window {ident}"}, now=T0, ident=ident, check_end=False)


def test_silences_are_kept_listed_and_expired(engine: sa.Engine) -> None:
    silences = SilenceStore(engine)
    active = _silence("a", T0, T0 + 3600,
                      {"name": "team", "value": "pay.*", "isRegex": True, "isEqual": False},
                      "service=db-main")
    pending = _silence("p", T0 + 600, T0 + 7200)
    over = _silence("o", T0 - 7200, T0 - 3600 + 0.5)
    for spec in (pending, active, over):
        silences.save(spec)
    assert silences.get("a") == active  # matchers, times and texts exactly as written
    with pytest.raises(NotFoundError):
        silences.get("missing")

    assert [s.id for s in silences.listed(T0)] == ["a", "p"]
    assert [s.id for s in silences.listed(T0, expired=True)] == ["o", "a", "p"]
    assert [s.state(T0) for s in silences.listed(T0, expired=True)] == [
        "expired", "active", "pending"]

    expired = silences.expire("p", T0 + 10)
    assert (expired.starts_at, expired.ends_at, expired.expired_at) == (T0 + 10, T0 + 10, T0 + 10)
    assert silences.expire("p", T0 + 99) == expired  # a second expiry changes nothing
    assert silences.get("p") == expired
    assert [s.id for s in silences.listed(T0)] == ["a"]

    # What a correlator puts in force on start: not expired early, ending after event time.
    assert [s.id for s in silences.in_force(None)] == ["o", "a"]
    assert [s.id for s in silences.in_force(T0)] == ["a"]
    assert silences.in_force(T0 + 3600) == []

    # Replacing by id, and forgetting one that never took effect.
    longer = _silence("a", T0, T0 + 9000)
    silences.save(longer)
    assert silences.get("a").ends_at == T0 + 9000
    silences.delete("a")
    assert [s.id for s in silences.listed(T0, expired=True)] == ["o", "p"]


def _resolved(make_incident: Callable[..., Incident], ident: str, resolved_at: float,
              *, merged: bool = False) -> Incident:
    base = make_incident(ident, opened_at=resolved_at - 600)
    timeline = (*base.timeline,
                TimelineEntry(ts=resolved_at, event="merged_into" if merged else "resolved",
                              status=IncidentStatus.RESOLVED))
    return replace(base, status=IncidentStatus.RESOLVED, resolved_at=resolved_at,
                   updated_at=resolved_at, timeline=timeline, version=2)


def test_recently_resolved_counts_back_from_the_newest_change(
    store: Store, make_incident: Callable[..., Incident]
) -> None:
    assert store.latest_update() is None
    assert store.recently_resolved(900.0) == []
    store.save_incident(_resolved(make_incident, "long-ago", T0 - 5000))
    store.save_incident(_resolved(make_incident, "recent", T0 - 300))
    store.save_incident(_resolved(make_incident, "just-now", T0 - 10))
    store.save_incident(make_incident("still-open", opened_at=T0))
    # Event time, not the wall clock: the newest updated_at in the store is the reference.
    assert store.latest_update() == T0
    assert [i.id for i in store.recently_resolved(900.0)] == ["recent", "just-now"]
    assert [i.id for i in store.recently_resolved(60.0)] == ["just-now"]
    assert [i.id for i in store.recently_resolved(10_000.0)] == ["long-ago", "recent",
                                                                  "just-now"]
    assert store.recently_resolved(900.0)[0].status == IncidentStatus.RESOLVED


def test_open_incidents_include_pending_ones(
    store: Store, make_incident: Callable[..., Incident]
) -> None:
    pending = replace(make_incident("held", opened_at=T0), status=IncidentStatus.PENDING)
    store.save_incident(pending)
    store.save_incident(make_incident("open", opened_at=T0 + 1))
    store.save_incident(_resolved(make_incident, "done", T0 + 2))
    assert [i.id for i in store.open_incidents()] == ["held", "open"]
    assert store.open_incidents()[0].status == IncidentStatus.PENDING
