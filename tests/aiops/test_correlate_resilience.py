"""The correlate stage under poison, failures halfway through a batch, ownership changes and
incident state changes that people must hear about (real correlator, real SQLite store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from aiops.app import Engine
from aiops.model import Alert, AlertStatus
from aiops.settings import Settings
from aiops.stages.correlate import CorrelateStage
from aiops.storage.repository import OutboxMessage
from aiops.wire.shapes import decode_incident, dumps, encode_alert
from streams.runner import handle_isolating
from streams.stage import Incoming

T0 = 1_790_000_000.0


def _engine(tmp_path: Path) -> Engine:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'stage.db'}"
    settings.correlation.quiet_period_s = 60
    settings.correlation.confirm_after_s = 0
    return Engine.build(settings, bootstrap_servers="")


def _stage(engine: Engine, keys: list[str] | None = None) -> CorrelateStage:
    stage = engine.stage("correlate")
    assert isinstance(stage, CorrelateStage)
    if keys is not None:
        def record(incident: Any, key: str) -> list[OutboxMessage]:
            keys.append(key)
            return [OutboxMessage("notify:test", key, b"{}")]

        stage._notifications = record
    stage.start()
    stage.published()
    return stage


def _alert(name: str, ts: float, service: str = "cart", *, severity: str = "critical",
           ended: float | None = None) -> Alert:
    """Firing since ``ts``, or resolved at ``ended`` (same ``startsAt``, as Alertmanager)."""
    labels = {"alertname": name, "service": service, "severity": severity}
    if ended is not None:
        return Alert(labels, {}, ts, ended, status=AlertStatus.RESOLVED)
    return Alert(labels, {}, ts)


def _in(engine: Engine, *values: bytes) -> list[Incoming]:
    return [Incoming(engine.topics.alerts, v, offset=i) for i, v in enumerate(values)]


def _raw(starts_at: object, **labels: str) -> bytes:
    return dumps({"labels": {"alertname": "X", "service": "cart", **labels},
                  "startsAt": starts_at, "status": "firing"})


def test_out_of_range_and_oversized_alerts_are_dead_lettered_and_the_timers_go_on(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    poison = [
        _raw(1e300), _raw(-1e300), b'{"labels": {"a": "b"}, "startsAt": 1e400}',
        _raw(T0, note="nul\x00byte"), _raw(T0, big="x" * 70_000),
        _raw(T0 + 10 * 86_400 * 365),  # valid RFC 3339, but years ahead of the clock
        dumps({"labels": {"alertname": "X"}, "startsAt": T0, "fingerprint": "f" * 40}),
    ]
    good = encode_alert(_alert("CartDown", T0))
    result = stage.handle(_in(engine, *poison, good))
    stage.published()
    reasons = [d.reason for d in result.dead]
    assert len(reasons) == len(poison), reasons
    assert "out of range" in reasons[0] and "out of range" in reasons[1]
    assert "NUL" in reasons[3] and "more than 65536" in reasons[4]
    assert "in the future" in reasons[5] and "fingerprint" in reasons[6]
    [published] = [decode_incident(r.value) for r in result.outputs]
    assert published.services == ("cart",)
    # The idle timer (which died on startsAt 1e300) runs and auto-resolves later on.
    assert stage.idle(T0 + 10) == []
    stage.handle(_in(engine, encode_alert(_alert("CartDown", T0, ended=T0 + 5))))
    stage.published()
    stage._wall_at_event -= 120  # two minutes of wall time without input
    later = [decode_incident(r.value) for r in stage.idle(stage._wall_at_event + 240)]
    assert [i.status.value for i in later] == ["resolved"]


class _FailingOnce:
    """A store whose first incident write in a batch fails after another was written:
    the failure halfway through a batch."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.fail_on = -1
        self.writes = 0

    def save_incident(self, incident: Any, outbox: Any = (), delta: Any = None) -> bool:
        self.writes += 1
        if self.writes == self.fail_on:
            raise RuntimeError("store went away")
        return bool(self._store.save_incident(incident, outbox, delta))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_batch_failing_halfway_is_rolled_back_and_no_alert_counts_twice(
    tmp_path: Path,
) -> None:
    """The store fails after the correlator applied a batch: the stage rolls back to what
    is stored, the runner retries record by record, and the result is the uninterrupted
    run's (each change once in the timeline, each notification once)."""
    first = [encode_alert(_alert(f"Down{i}", T0 + i, service=f"s{i}")) for i in range(3)]
    second = [encode_alert(_alert(f"Down{i}", T0 + i, service=f"s{i}", ended=T0 + 5))
              for i in range(2)]
    second += [encode_alert(_alert("Slow", T0 + 6, service="s2")),
               encode_alert(_alert("CmdDown", T0 + 7, service="s1"))]
    runs = []
    for fail in (False, True):
        engine = _engine(tmp_path / str(fail))
        keys: list[str] = []
        stage = _stage(engine, keys)
        failing = _FailingOnce(engine.store)
        stage._store = failing  # type: ignore[assignment]
        handle_isolating(stage, _in(engine, *first))
        stage.published()
        failing.writes = 0
        failing.fail_on = 1 if fail else -1
        result = handle_isolating(stage, _in(engine, *second))
        stage.published()
        assert result.dead == []
        assert failing.writes >= (3 if fail else 1)
        [incident] = engine.store.list_incidents()
        runs.append(([(t.event, t.note) for t in incident.timeline],
                     sorted(a.fingerprint for a in incident.alerts), keys))
    assert runs[1] == runs[0]
    events = [e for e, _ in runs[1][0]]
    assert events.count("alert_resolved") == 2 and events.count("opened") == 1


def test_each_state_change_is_notified_once_reopen_second_resolve_and_escalation(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    keys: list[str] = []
    stage = _stage(engine, keys)

    def feed(*alerts: Alert) -> None:
        stage.handle(_in(engine, *map(encode_alert, alerts)))
        stage.published()

    def quiet(after: float) -> None:
        stage._wall_at_event -= after
        stage.idle(stage._wall_at_event + after)
        stage.published()

    feed(_alert("CartDown", T0, severity="warning"))
    feed(_alert("CartDown2", T0 + 1, severity="critical"))  # escalation
    feed(_alert("CartDown", T0, ended=T0 + 2, severity="warning"),
         _alert("CartDown2", T0 + 1, ended=T0 + 2, severity="critical"))
    quiet(120)  # auto-resolved after the quiet period
    feed(_alert("CartDown", T0 + 200, severity="warning"))  # reopens
    # a redelivery of the same alert (the worker restarted) repeats nothing
    stage2 = _stage(engine, keys)
    stage2.handle(_in(engine, encode_alert(_alert("CartDown", T0 + 200, severity="warning"))))
    feed(_alert("CartDown", T0 + 200, ended=T0 + 210, severity="warning"))
    quiet(120)
    [incident] = engine.store.list_incidents()
    assert [k.split(":", 1)[1] for k in keys] == [
        "open:0", "open:0:critical", "resolved:0", "open:1", "resolved:1"]
    stored = {row.dedup_key for row in engine.store.pending("notify:test", now=1e18)}
    assert stored == set(keys) and all(k.startswith(incident.id) for k in keys)


def test_escalation_is_notified_whatever_the_batches(tmp_path: Path) -> None:
    """A warning and a critical alert of one incident, apart or in one batch (as after a
    restart with a backlog): the same notifications."""
    runs = []
    for together in (False, True):
        engine = _engine(tmp_path / str(together))
        keys: list[str] = []
        stage = _stage(engine, keys)
        values = [encode_alert(_alert("CartSlow", T0, severity="warning")),
                  encode_alert(_alert("CartDown", T0 + 1, severity="critical"))]
        for batch in ([values] if together else [[v] for v in values]):
            stage.handle(_in(engine, *batch))
            stage.published()
        runs.append([k.split(":", 1)[1] for k in keys])
    assert runs[0] == runs[1] == ["open:0", "open:0:critical"]


def test_a_new_owner_reloads_what_the_previous_one_stored(tmp_path: Path) -> None:
    """Two replicas: the alerts partition moves from a to b and back. Each change the
    other made is seen, so an incident whose alerts all resolved resolves and notifies."""
    engine = _engine(tmp_path)
    keys: list[str] = []
    a, b = _stage(engine, keys), _stage(engine, keys)  # b started first, holds nothing yet
    a.on_assign([(engine.topics.alerts, 0)])
    a.handle(_in(engine, *(encode_alert(_alert(f"Down{i}", T0 + i)) for i in range(4))))
    a.published()
    a.on_revoke([(engine.topics.alerts, 0)])
    assert a.idle(T0 + 10_000) == []  # no timers on a stale copy
    b.on_assign([(engine.topics.alerts, 0)])
    b.handle(_in(engine, *(encode_alert(_alert(f"Down{i}", T0 + i, ended=T0 + 20))
                           for i in range(4))))
    b.published()
    b._wall_at_event -= 120
    out = [decode_incident(r.value) for r in b.idle(b._wall_at_event + 120)]
    assert [i.status.value for i in out] == ["resolved"]
    [incident] = engine.store.list_incidents()
    assert incident.status.value == "resolved" and len(incident.alerts) == 4
    assert [k.split(":", 1)[1] for k in keys] == ["open:0", "resolved:0"]


def test_two_replicas_each_seeing_half_the_resolutions_resolve_the_incident(
    tmp_path: Path,
) -> None:
    """Alerts topic in two partitions, one replica on each: an incident's alerts resolve on
    different replicas. Each learns the other's resolutions from the store, so the incident
    resolves (once) instead of staying open on both."""
    engine = _engine(tmp_path)
    keys: list[str] = []
    a = _stage(engine, keys)
    a.on_assign([(engine.topics.alerts, 0)])
    a.handle(_in(engine, *(encode_alert(_alert(f"Down{i}", T0 + i)) for i in range(2))))
    a.published()
    b = _stage(engine, keys)
    b.on_assign([(engine.topics.alerts, 1)])
    a.handle(_in(engine, encode_alert(_alert("Down0", T0, ended=T0 + 20))))
    a.published()
    b.handle(_in(engine, encode_alert(_alert("Down1", T0 + 1, ended=T0 + 21))))
    b.published()
    for stage in (a, b):
        stage._wall_at_event -= 120
        stage.idle(stage._wall_at_event + 120)
        stage.published()
    [incident] = engine.store.list_incidents()
    assert incident.status.value == "resolved"
    assert sorted(k.split(":", 1)[1] for k in set(keys)) == ["open:0", "resolved:0"]


@pytest.mark.parametrize("members", [10_000])
def test_an_incident_of_ten_thousand_alerts_is_stored_served_and_fits_the_feed(
    tmp_path: Path, members: int,
) -> None:
    from fastapi.testclient import TestClient

    from streams.producer import EventProducer

    engine = _engine(tmp_path)
    stage = _stage(engine)
    stage._max_message_bytes = 1_000_000
    values = [encode_alert(_alert(f"Down{i}", T0 + i * 0.001, service="cart"))
              for i in range(members)]
    out = stage.handle(_in(engine, *values)).outputs
    stage.published()
    [feed] = out
    assert len(feed.value) < 1_000_000
    doc = orjson.loads(feed.value)
    assert doc["counts"]["alerts"] == members and len(doc["alerts"]) <= 100
    assert doc["omitted"]["alerts"] == members - len(doc["alerts"])
    stored = engine.store.get_incident(doc["id"])
    assert len(stored.alerts) == members
    api = TestClient(engine.api(producer=EventProducer(engine.kafka)))
    served = api.get(f"/api/v1/incidents/{doc['id']}")
    assert served.status_code == 200 and len(served.json()["alerts"]) == members
