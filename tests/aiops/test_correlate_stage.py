"""The correlate stage over a real correlator and a real SQLite store (no broker): one
version per changed incident per batch, reopening across a restart, silences from the store,
and dead letters that do not take a batch down."""

from __future__ import annotations

from pathlib import Path

from aiops.app import Engine
from aiops.model import Alert, AlertStatus, CommandKind, IncidentCommand, IncidentStatus
from aiops.settings import Settings
from aiops.silences import parse_silence, silence_message
from aiops.stages.correlate import CorrelateStage
from aiops.storage.silences import SilenceStore
from aiops.wire.shapes import command_to_dict, decode_incident, dumps, encode_alert
from streams.stage import Incoming

T0 = 1_790_000_000.0


def _engine(tmp_path: Path) -> Engine:
    settings = Settings.load(None)
    settings.store.url = f"sqlite:///{tmp_path / 'stage.db'}"
    settings.correlation.quiet_period_s = 60
    return Engine.build(settings, bootstrap_servers="")


def _stage(engine: Engine) -> CorrelateStage:
    """A correlate stage as a worker builds it, started (as after a process restart)."""
    stage = engine.stage("correlate")
    assert isinstance(stage, CorrelateStage)
    stage.start()
    stage.published()
    return stage


def _alert(name: str, ts: float, service: str = "cart", *, resolved: bool = False) -> Alert:
    """Names with "Down" are outages, which open an incident at once."""
    labels = {"alertname": name, "service": service, "severity": "critical"}
    if resolved:
        return Alert(labels, {}, ts, ts + 30, status=AlertStatus.RESOLVED)
    return Alert(labels, {"score": "0.9"}, ts)


def _incoming(engine: Engine, *values: bytes) -> list[Incoming]:
    return [Incoming(engine.topics.alerts, v, offset=i) for i, v in enumerate(values)]


def _published(stage: CorrelateStage, batch: list[Incoming]):  # type: ignore[no-untyped-def]
    result = stage.handle(batch)
    stage.published()
    return [decode_incident(r.value) for r in result.outputs], result.dead


def test_a_batch_of_alerts_on_one_incident_publishes_one_version(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    alerts = [_alert(f"Alert{i}", T0 + 0.05 * i) for i in range(12)]
    published, dead = _published(stage, _incoming(engine, *map(encode_alert, alerts)))
    assert not dead
    assert len(published) == 1
    incident = published[0]
    # One version for the whole batch, not one per alert.
    assert incident.version == 1
    assert len(incident.alerts) == 12
    assert engine.store.get_incident(incident.id).version == 1
    # The next batch touching it is the next version.
    more, _ = _published(stage, _incoming(engine, *(encode_alert(_alert(f"More{i}", T0 + 0.7))
                                                    for i in range(5))))
    assert [(i.id, i.version, len(i.alerts)) for i in more] == [(incident.id, 2, 17)]


def test_bad_records_go_to_the_dlq_and_the_rest_of_the_batch_is_processed(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    batch = _incoming(engine, encode_alert(_alert("A", T0)), b"not json",
                      dumps({"labels": {}}), encode_alert(_alert("B", T0 + 0.1)),
                      dumps({"silence": {"matchers": []}}))
    published, dead = _published(stage, batch)
    assert [d.message.offset for d in dead] == [1, 2, 4]
    assert all(d.reason for d in dead)
    assert "silence" in dead[2].reason
    assert len(published) == 1 and {a.name for a in published[0].alerts} == {"A", "B"}


def test_a_resolved_incident_reopens_after_a_restart(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    (opened,), _ = _published(stage, _incoming(engine, encode_alert(_alert("CartDown", T0))))
    command = IncidentCommand(opened.id, CommandKind.RESOLVE, T0 + 120, "alice", "fixed")
    (resolved,), _ = _published(stage, _incoming(engine, dumps(command_to_dict(command))))
    assert resolved.status == IncidentStatus.RESOLVED

    # A new stage over the same store, as after a restart; a related alert within the
    # correlator's reopen window brings the same incident back.
    restarted = _stage(engine)
    (again,), _ = _published(restarted, _incoming(engine, encode_alert(
        _alert("HighLatency", T0 + 400))))
    assert again.id == opened.id
    assert again.status == IncidentStatus.OPEN
    assert "reopened" in [e.event for e in again.timeline]
    assert {a.name for a in again.alerts} == {"CartDown", "HighLatency"}
    assert len(engine.store.list_incidents()) == 1


def test_an_incident_resolved_before_the_reopen_window_is_not_reloaded(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    (old,), _ = _published(stage, _incoming(engine, encode_alert(_alert("CartDown", T0))))
    command = IncidentCommand(old.id, CommandKind.RESOLVE, T0 + 60)
    _published(stage, _incoming(engine, dumps(command_to_dict(command))))
    # Event time moves on past the reopen window (900 s) through another service's incident.
    (other,), _ = _published(stage, _incoming(engine, encode_alert(
        _alert("DbDown", T0 + 5000, service="db"))))
    assert engine.store.latest_update() == T0 + 5000
    assert engine.store.recently_resolved(900.0) == []

    restarted = _stage(engine)
    # The open one is back (the alert joins it), the old resolved one is not.
    (joined,), _ = _published(restarted, _incoming(engine, encode_alert(
        _alert("HighLatency", T0 + 5010))))
    assert joined.id == other.id
    assert joined.id != old.id


def test_silences_apply_from_their_place_in_the_stream_and_survive_a_restart(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    spec = parse_silence({"matchers": ['service=~"db-.*"'], "startsAt": T0, "endsAt": T0 + 3600},
                         now=T0, ident="maint-1")
    SilenceStore(engine.store.engine).save(spec)
    before = _alert("DiskFull", T0 + 1, service="db-main")
    silenced = _alert("DiskSlow", T0 + 2, service="db-main")
    published, dead = _published(stage, _incoming(
        engine, encode_alert(before), silence_message(spec), encode_alert(silenced),
        encode_alert(_alert("HighCPU", T0 + 3, service="cart"))))
    assert not dead
    members = {a.name for i in published for a in i.alerts}
    # The alert ahead of the silence in the batch is not silenced; the one after it is.
    assert members == {"DiskFull", "HighCPU"}

    # A restarted stage loads the silence from the store.
    restarted = _stage(engine)
    published, _ = _published(restarted, _incoming(engine, encode_alert(
        _alert("DiskGone", T0 + 10, service="db-replica"))))
    assert "DiskGone" not in {a.name for i in published for a in i.alerts}
    assert engine.store.incident_for_alert(_alert("DiskGone", T0 + 10,
                                                  service="db-replica").fingerprint) is None

    # Expired: dropped at once, and not loaded by the next restart.
    expired = SilenceStore(engine.store.engine).expire("maint-1", T0 + 20)
    published, _ = _published(restarted, _incoming(engine, silence_message(expired),
                                                   encode_alert(_alert("DiskOld", T0 + 30,
                                                                       service="db-old"))))
    assert "DiskOld" in {a.name for i in published for a in i.alerts}
    fresh = _stage(engine)
    published, _ = _published(fresh, _incoming(engine, encode_alert(
        _alert("DiskNew", T0 + 40, service="db-new"))))
    assert "DiskNew" in {a.name for i in published for a in i.alerts}


def test_a_pending_incident_is_confirmed_after_a_restart(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    stage = _stage(engine)
    published, _ = _published(stage, _incoming(engine, encode_alert(_alert("HighLatency", T0))))
    assert published == []  # pending: stored, not on the feed and never notified
    (held,) = engine.store.list_incidents()
    assert held.status == IncidentStatus.PENDING and not held.raised

    restarted = _stage(engine)
    (confirmed,), _ = _published(restarted, _incoming(engine, encode_alert(
        _alert("HighErrorRate", T0 + 10))))
    assert confirmed.id == held.id
    assert confirmed.status == IncidentStatus.OPEN
    assert [i.id for i in engine.store.list_incidents()] == [held.id]
