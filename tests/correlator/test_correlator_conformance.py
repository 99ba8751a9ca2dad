"""The same contract checks over every registered correlator, as the detectors have theirs:
whatever groups and ranks, the correlate stage relies on idempotent folding, one new version
per change, restore after a restart, the lifecycle in event time, commands, silences and
determinism."""

from __future__ import annotations

import pytest

from aiops.model import (
    Alert,
    AlertStatus,
    CommandKind,
    Incident,
    IncidentCommand,
    IncidentStatus,
    NotFoundError,
)
from correlator.config import CorrelatorConfig, Matcher, Silence
from correlator.registry import CorrelatorSpec, builtin_correlators
from correlator.types import Correlator
from topology.graph import ServiceGraph

FACTORIES = builtin_correlators()
NAMES = sorted(FACTORIES)


def _graph() -> ServiceGraph:
    return ServiceGraph.from_edges([("frontend", "cart"), ("cart", "redis"),
                                    ("ads", "adsdb")])


def _fresh(name: str, graph: ServiceGraph | None = None) -> Correlator:
    config = CorrelatorConfig(window=120, quiet_period=60, confirm_after=0)
    return FACTORIES[name](CorrelatorSpec(config, graph if graph is not None else _graph()))


def _alert(name: str, service: str, ts: float, *, score: float = 1.0,
           resolved_at: float | None = None) -> Alert:
    labels = {"alertname": name, "service": service}
    if resolved_at is None:
        return Alert(labels, {"score": str(score)}, starts_at=ts)
    return Alert(labels, {"score": str(score)}, starts_at=ts, ends_at=resolved_at,
                 status=AlertStatus.RESOLVED)


def _storm() -> list[Alert]:
    """Two problems on unrelated parts of the graph, with repeats and resolutions."""
    return [
        _alert("HighCPU", "redis", 100, score=5),
        _alert("Latency", "cart", 110, score=2),
        _alert("HighCPU", "redis", 100, score=5),  # Alertmanager's repeat
        _alert("Errors", "adsdb", 130, score=3),
        _alert("Latency", "frontend", 140, score=1),
        _alert("Latency", "cart", 110, resolved_at=200),
        _alert("Errors", "adsdb", 130, resolved_at=210),
    ]


def _shape(incidents: list[Incident]) -> list[tuple[object, ...]]:
    return sorted((i.id, i.status.value, tuple(sorted(a.fingerprint for a in i.alerts)),
                   tuple(sorted((a.fingerprint, a.status.value) for a in i.alerts)))
                  for i in incidents)


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_meets_the_contract(name: str) -> None:
    assert isinstance(_fresh(name), Correlator)


def test_first_alert_opens_and_redelivery_changes_nothing(name: str) -> None:
    c = _fresh(name)
    first = c.process(_alert("HighCPU", "redis", 100, score=5))
    assert len(first) == 1
    inc = first[0]
    assert inc.status == IncidentStatus.OPEN and inc.version == 1 and inc.timeline
    assert [a.name for a in inc.alerts] == ["HighCPU"]
    assert c.process(_alert("HighCPU", "redis", 100, score=5)) == []
    assert [i.id for i in c.open_incidents()] == [inc.id]


def test_every_change_is_one_new_version_with_its_timeline_entry(name: str) -> None:
    c = _fresh(name)
    seen: dict[str, Incident] = {}
    for alert in _storm():
        for inc in c.process(alert):
            before = seen.get(inc.id)
            if before is None:
                assert inc.version == 1
            else:
                assert inc.version == before.version + 1
                assert len(inc.timeline) > len(before.timeline)
                assert inc.timeline[:len(before.timeline)] == before.timeline
            seen[inc.id] = inc
    related = [i for i in seen.values() if any(a.service == "redis" for a in i.alerts)]
    assert len(related) == 1 and {a.service for a in related[0].alerts} >= {"redis", "cart"}


def test_an_alert_first_seen_resolved_opens_nothing(name: str) -> None:
    c = _fresh(name)
    assert c.process(_alert("Errors", "adsdb", 130, resolved_at=140)) == []
    assert c.open_incidents() == []


def test_quiet_incidents_resolve_in_event_time(name: str) -> None:
    c = _fresh(name)
    inc = c.process(_alert("Errors", "adsdb", 100))[0]
    c.process(_alert("Errors", "adsdb", 100, resolved_at=150))
    assert all(i.status != IncidentStatus.RESOLVED for i in c.tick(160))  # still quiet
    done = [i for i in c.tick(150 + 60 + 1) if i.id == inc.id]
    assert done and done[-1].status == IncidentStatus.RESOLVED
    assert done[-1].resolved_at is not None and c.open_incidents() == []


def test_commands_acknowledge_and_resolve(name: str) -> None:
    c = _fresh(name)
    inc = c.process(_alert("HighCPU", "redis", 100))[0]
    acked = c.apply(IncidentCommand(inc.id, CommandKind.ACKNOWLEDGE, 120, actor="ann"))
    assert acked[0].status == IncidentStatus.ACKNOWLEDGED and acked[0].version == 2
    done = c.apply(IncidentCommand(inc.id, CommandKind.RESOLVE, 130, actor="ann"))
    assert done[0].status == IncidentStatus.RESOLVED and done[0].version == 3
    assert c.apply(IncidentCommand(inc.id, CommandKind.RESOLVE, 140)) == []
    with pytest.raises(NotFoundError):
        c.apply(IncidentCommand("no-such-incident", CommandKind.RESOLVE, 150))


def test_restored_incidents_do_not_repeat_after_a_restart(name: str) -> None:
    first = _fresh(name)
    alerts = _storm()
    for alert in alerts:
        first.process(alert)
    held = first.open_incidents()
    second = _fresh(name)
    second.restore(held)
    assert _shape(second.open_incidents()) == _shape(held)
    assert all(second.process(alert) == [] for alert in alerts)


def test_forget_all_then_restore_gives_the_same_state(name: str) -> None:
    c = _fresh(name)
    for alert in _storm():
        c.process(alert)
    held = c.open_incidents()
    c.forget_all()
    assert c.open_incidents() == []
    c.restore(held)
    assert _shape(c.open_incidents()) == _shape(held)


def test_a_batch_ends_where_alerts_one_by_one_do(name: str) -> None:
    one, batched = _fresh(name), _fresh(name)
    for alert in _storm():
        one.process(alert)
    versions = batched.process_batch(_storm())
    assert len({i.id for i in versions}) == len(versions)  # one version per incident
    assert _shape(batched.open_incidents()) == _shape(one.open_incidents())


def test_same_input_same_incidents(name: str) -> None:
    runs = []
    for _ in range(2):
        c = _fresh(name)
        out = [(i.id, i.version, i.status.value, i.root_causes)
               for t, alert in enumerate(_storm()) for i in c.process(alert) + c.tick(100 + t)]
        runs.append(out)
    assert runs[0] == runs[1] and runs[0]


def test_silences_drop_matching_alerts_until_removed(name: str) -> None:
    c = _fresh(name)
    c.add_silence(Silence((Matcher("service", "adsdb"),), 0, 1000, id="s1"))
    assert c.process(_alert("Errors", "adsdb", 100)) == []
    assert c.process(_alert("Errors", "cart", 100))  # not matched
    assert c.remove_silence("s1") and not c.remove_silence("s1")
    assert c.process(_alert("Errors", "adsdb", 200))


def test_deviations_change_no_incident_by_themselves(name: str) -> None:
    from aiops.model.deviation import Deviation

    c = _fresh(name)
    c.observe([Deviation("redis", "cpu", "cpu usage", "resource", 0.9, 0.1, 20.0, 90, 100)])
    assert c.open_incidents() == [] and c.tick(200) == []


def test_a_new_topology_is_used_for_later_alerts(name: str) -> None:
    c = _fresh(name, ServiceGraph.from_edges([("ads", "adsdb")]))
    first = c.process(_alert("HighCPU", "redis", 100))[0]
    g = ServiceGraph.from_edges([("cart", "redis")])
    c.set_graph(g)
    assert c.graph is g
    joined = c.process(_alert("Latency", "cart", 110))
    assert joined and joined[0].id == first.id
