"""Behaviour of the topology-aware correlator: dedup, grouping, lifecycle, idempotence."""

from __future__ import annotations

import pytest

from aiops.model import (
    Alert,
    AlertStatus,
    CommandKind,
    ConflictError,
    IncidentCommand,
    IncidentStatus,
    NotFoundError,
)
from correlator.config import CorrelatorConfig, InhibitionRule, Matcher, Silence
from correlator.engine import TopologyCorrelator
from correlator.ranking import TopScoreRanker
from topology.graph import ServiceGraph


def alert(name: str, service: str, ts: float, *, score: float = 1.0,
          resolved_at: float | None = None, **labels: str) -> Alert:
    lab = {"alertname": name, "service": service, **labels}
    if resolved_at is None:
        return Alert(lab, {"score": str(score)}, starts_at=ts)
    return Alert(lab, {"score": str(score)}, starts_at=ts, ends_at=resolved_at,
                 status=AlertStatus.RESOLVED)


def shop() -> ServiceGraph:
    g = ServiceGraph.from_edges([("frontend", "cart"), ("frontend", "catalog"),
                                 ("cart", "redis"), ("checkout", "cart"),
                                 ("ads", "adsdb")])
    g.add_node("node-1", "host")
    g.add_node("cart-0", "pod")
    g.add_edge("cart", "cart-0", "depends-on")
    g.add_edge("cart-0", "node-1", "runs-on")
    return g


def test_thin_window_grouping_without_topology() -> None:
    c = TopologyCorrelator(CorrelatorConfig(window=60), ranking=TopScoreRanker())
    first = c.process(alert("A", "x", 0, score=1))
    second = c.process(alert("B", "y", 50, score=4))
    assert first[0].id == second[0].id and second[0].version == 2
    assert second[0].root_causes[0].service == "y"
    third = c.process(alert("C", "z", 200))
    assert third[0].id != first[0].id and third[0].version == 1


def test_dedup_and_redelivery_are_idempotent() -> None:
    c = TopologyCorrelator(graph=shop())
    a = alert("HighCPU", "cart", 100, score=5)
    assert len(c.process(a)) == 1
    assert c.process(a) == []
    # Alertmanager re-sends a firing alert with a moved endsAt: same state, no new version
    again = Alert(a.labels, a.annotations, starts_at=100, ends_at=400)
    assert c.process(again) == []
    assert c.stats["duplicates"] == 2


def test_ids_are_stable_across_replays() -> None:
    alerts = [alert("HighCPU", "cart", 100, score=5), alert("Lat", "frontend", 120),
              alert("Lat", "ads", 130)]
    runs = []
    for _ in range(2):
        c = TopologyCorrelator(graph=shop())
        runs.append([(i.id, i.version) for a in alerts for i in c.process(a)])
    assert runs[0] == runs[1]


def test_topology_groups_related_and_splits_unrelated() -> None:
    c = TopologyCorrelator(CorrelatorConfig(k_hops=2), graph=shop())
    i1 = c.process(alert("HighCPU", "redis", 100, score=5))[0]
    i2 = c.process(alert("Lat", "frontend", 110))[0]  # frontend -> cart -> redis: 2 hops
    i3 = c.process(alert("Lat", "adsdb", 120))[0]
    assert i1.id == i2.id != i3.id
    # while redis still fires, a later symptom of a service that depends on it joins
    assert c.process(alert("Err", "checkout", 900))[0].id == i1.id
    # once everything resolved (and lingered), a new alert starts a new incident
    for a in (alert("HighCPU", "redis", 100, resolved_at=950),
              alert("Lat", "frontend", 110, resolved_at=950),
              alert("Err", "checkout", 900, resolved_at=950)):
        c.process(a)
    assert c.process(alert("Lat", "cart", 2000))[0].id not in {i1.id, i3.id}


def test_late_dependency_alert_is_not_a_cause() -> None:
    c = TopologyCorrelator(CorrelatorConfig(window=300), graph=shop())
    first = c.process(alert("Lat", "frontend", 100))[0]
    # cart is a dependency of frontend; starting 20 minutes later it cannot be the cause
    assert c.process(alert("HighCPU", "cart", 1300))[0].id != first.id
    # but a dependency alerting around the same time can
    assert c.process(alert("HighCPU", "catalog", 110))[0].id == first.id


def test_linked_incidents_merge_into_the_oldest() -> None:
    c = TopologyCorrelator(CorrelatorConfig(k_hops=1), graph=shop())
    first = c.process(alert("Lat", "frontend", 100))[0]
    second = c.process(alert("Lat", "redis", 105))[0]  # 2 hops from frontend: separate
    assert first.id != second.id
    out = c.process(alert("Lat", "cart", 110, score=5))  # links both
    survivor, merged = out[0], out[1]
    assert survivor.id == first.id
    assert merged.id == second.id and merged.status == IncidentStatus.RESOLVED
    assert merged.timeline[-1].event == "merged_into"
    assert set(survivor.services) == {"frontend", "redis", "cart"}
    assert len(c.open_incidents()) == 1


def test_lifecycle_ack_resolve_and_commands_idempotent() -> None:
    c = TopologyCorrelator(graph=shop())
    inc = c.process(alert("HighCPU", "cart", 100))[0]
    ack = IncidentCommand(inc.id, CommandKind.ACKNOWLEDGE, ts=150, actor="ann")
    out = c.apply(ack)
    assert out[0].status == IncidentStatus.ACKNOWLEDGED and out[0].timeline[-1].actor == "ann"
    assert c.apply(ack) == []
    res = c.apply(IncidentCommand(inc.id, CommandKind.RESOLVE, ts=200))
    assert res[0].status == IncidentStatus.RESOLVED and res[0].resolved_at == 200
    with pytest.raises(ConflictError):
        c.apply(ack)
    with pytest.raises(NotFoundError):
        c.apply(IncidentCommand("nope", CommandKind.RESOLVE, ts=1))


def test_auto_resolve_after_quiet_period_in_event_time() -> None:
    c = TopologyCorrelator(CorrelatorConfig(quiet_period=300), graph=shop())
    c.process(alert("HighCPU", "cart", 100))
    c.process(alert("Lat", "frontend", 120))
    c.process(alert("HighCPU", "cart", 100, resolved_at=500))
    assert c.tick(2000) == []  # frontend still firing
    out = c.process(alert("Lat", "frontend", 120, resolved_at=600))
    assert out[0].status == IncidentStatus.OPEN
    assert c.tick(899) == []
    done = c.tick(900)
    assert done[0].status == IncidentStatus.RESOLVED
    assert done[0].timeline[-1].event == "auto_resolved"
    assert c.tick(901) == []


def test_reopen_within_window_instead_of_new_incident() -> None:
    c = TopologyCorrelator(CorrelatorConfig(quiet_period=0, reopen_window=600,
                                            confirm_after=0), graph=shop())
    inc = c.process(alert("HighCPU", "cart", 100))[0]
    c.process(alert("HighCPU", "cart", 100, resolved_at=200))
    assert c.tick(200)[0].status == IncidentStatus.RESOLVED
    again = c.process(alert("HighCPU", "cart", 500))  # same alert, new episode
    assert again[0].id == inc.id and again[0].status == IncidentStatus.OPEN
    assert again[0].timeline[-1].event == "reopened"
    c.process(alert("HighCPU", "cart", 500, resolved_at=550))
    c.tick(550)
    later = c.process(alert("HighCPU", "cart", 5000))
    assert later[0].id != inc.id


def test_restart_restore_then_redelivery_creates_nothing() -> None:
    alerts = [alert("HighCPU", "cart", 100, score=5), alert("Lat", "frontend", 120),
              alert("HighCPU", "cart", 100, resolved_at=300)]
    first = TopologyCorrelator(graph=shop())
    latest = {}
    for a in alerts:
        for inc in first.process(a):
            latest[inc.id] = inc
    second = TopologyCorrelator(graph=shop())
    second.restore(latest.values())
    for a in alerts:
        assert second.process(a) == []
    nxt = second.process(alert("Lat", "checkout", 130))
    assert nxt[0].id in latest and nxt[0].version == latest[nxt[0].id].version + 1


def test_silence_drops_matching_alerts_while_active() -> None:
    silence = Silence((Matcher.parse('service=~"ads.*"'),), starts_at=0, ends_at=1000)
    c = TopologyCorrelator(CorrelatorConfig(silences=(silence,)), graph=shop())
    assert c.process(alert("Lat", "adsdb", 500)) == []
    assert c.process(alert("Lat", "adsdb", 1500))[0].status == IncidentStatus.PENDING
    assert c.stats["silenced"] == 1


def test_host_down_inhibits_pod_alerts_on_that_host() -> None:
    rule = InhibitionRule(source=(Matcher("alertname", "HostDown"),), target=(), topology=True)
    c = TopologyCorrelator(CorrelatorConfig(inhibitions=(rule,)), graph=shop())
    host = c.process(Alert({"alertname": "HostDown", "host": "node-1"}, {"score": "3"},
                           starts_at=100))[0]
    pod = c.process(alert("PodNotReady", "cart", 110, score=9, pod="cart-0"))[0]
    assert pod.id == host.id
    assert pod.timeline[-1].event == "alert_inhibited"
    assert pod.root_causes[0].service == "node-1"  # the louder pod alert is not a candidate
    assert c.stats["inhibited"] == 1


def test_flapping_alert_stops_producing_versions() -> None:
    c = TopologyCorrelator(CorrelatorConfig(flap_threshold=3, flap_window=1000,
                                            quiet_period=10_000), graph=shop())
    versions = []
    t = 100.0
    for _ in range(6):
        versions.append(len(c.process(alert("Lat", "cart", t))))
        versions.append(len(c.process(alert("Lat", "cart", t, resolved_at=t + 10))))
        t += 20
    inc = c.open_incidents()[0]
    assert any(e.event == "flapping" for e in inc.timeline)
    assert versions[:3] == [1, 1, 1] and sum(versions[4:]) == 0


def test_batch_processing_reaches_the_same_state_with_fewer_versions() -> None:
    from aiops.sim import generate

    sc = generate(n_services=30, fault="host", seed=11, duration=1800, logs=False)
    single = TopologyCorrelator(graph=sc.graph)
    batched = TopologyCorrelator(graph=sc.graph)
    versions_single = 0
    for _, a in sc.alert_events:
        versions_single += len(single.process(a))
    events = [a for _, a in sc.alert_events]
    versions_batched = 0
    for i in range(0, len(events), 50):
        versions_batched += len(batched.process_batch(events[i:i + 50]))
    assert versions_batched < versions_single

    def final(c: TopologyCorrelator) -> list[tuple[object, ...]]:
        return sorted((i.id, i.status, i.fingerprints, i.root_causes[0].service)
                      for i in (c.incident(x) for x in c._incidents))

    assert final(single) == final(batched)


def test_shared_symptom_does_not_merge_independent_incidents() -> None:
    g = ServiceGraph.from_edges([("frontend", "cart"), ("frontend", "ads")])
    c = TopologyCorrelator(graph=g)
    cart = c.process(alert("HighCPU", "cart", 100, score=5))[0]
    ads = c.process(alert("HighCPU", "ads", 110, score=5))[0]
    out = c.process(alert("Lat", "frontend", 130))
    assert [i.id for i in out] == [ads.id]  # joins the most recent problem, merges nothing
    assert len(c.open_incidents()) == 2 and cart.id in {i.id for i in c.open_incidents()}
    merging = TopologyCorrelator(CorrelatorConfig(merge_on_shared_effect=True), graph=g)
    for a in (alert("HighCPU", "cart", 100), alert("HighCPU", "ads", 110),
              alert("Lat", "frontend", 130)):
        merging.process(a)
    assert len(merging.open_incidents()) == 1


def test_runtime_silences_and_topology_updates() -> None:
    c = TopologyCorrelator(graph=shop())
    c.add_silence(Silence((Matcher("service", "ads"),), 0, 1000, id="maint-1"))
    assert c.process(alert("Lat", "ads", 10)) == []
    assert c.remove_silence("maint-1") and not c.remove_silence("maint-1")
    assert c.process(alert("Lat2", "ads", 20))[0].version == 1
    # a new dependency appears at runtime: cart -> ads; ads' incident now links to cart
    from topology.updates import apply_update
    assert c.graph is not None
    apply_update(c.graph, {"op": "add_edge", "source": "cart", "target": "ads"})
    assert c.process(alert("Lat", "cart", 30))[0].services == ("ads", "cart")


def test_lone_rollout_is_context_until_a_dependent_alerts() -> None:
    c = TopologyCorrelator(CorrelatorConfig(), graph=shop())
    rollout = alert("DeploymentRolledOut", "cart", 100, kind="change")
    assert c.process(rollout) == []  # a change alone raises nothing
    assert c.process(alert("DeploymentRolledOut", "ads", 100, kind="change")) == []
    inc = c.process(alert("HighLatency", "frontend", 130, score=5))[-1]
    assert {a.name for a in inc.alerts} == {"HighLatency"}
    assert {a.name for a in inc.changes} == {"DeploymentRolledOut"}  # context, not a member
    assert "cart" in inc.services and "ads" not in inc.services  # ads is not a dependency
    assert any(e.event == "change_attached" for e in inc.timeline)
    # a rollout made after the symptom began does not explain it
    c2 = TopologyCorrelator(CorrelatorConfig(), graph=shop())
    c2.process(alert("DeploymentRolledOut", "cart", 200, kind="change"))
    late = c2.process(alert("HighLatency", "frontend", 130, score=5))[-1]
    assert "cart" not in late.services


def test_changes_may_still_open_incidents_when_configured() -> None:
    c = TopologyCorrelator(CorrelatorConfig(changes_open_incidents=True), graph=shop())
    assert len(c.process(alert("DeploymentRolledOut", "cart", 100, kind="change"))) == 1


def test_lone_alert_is_pending_until_it_lasts_or_is_corroborated() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=120), graph=shop())
    blip = c.process(alert("HighCPU", "ads", 100))[0]
    assert blip.status == IncidentStatus.PENDING and not blip.raised
    c.process(alert("HighCPU", "ads", 100, resolved_at=160))
    assert c.tick(219) == []
    dropped = c.tick(220)[0]  # cleared within the hold: transient, never raised
    assert dropped.status == IncidentStatus.RESOLVED and not dropped.raised
    assert dropped.timeline[-1].event == "transient" and c.stats["transient"] == 1
    assert c.process(alert("HighCPU", "ads", 100)) == []  # a late redelivery stays dropped
    # still firing when the hold ends: raised then
    lasting = c.process(alert("HighCPU", "cart", 1000))[0]
    assert lasting.status == IncidentStatus.PENDING
    raised = c.tick(1120)[0]
    assert raised.id == lasting.id and raised.status == IncidentStatus.OPEN and raised.raised
    assert raised.timeline[-1].event == "opened"
    # a second, related alert raises it at once
    first = c.process(alert("HighLatency", "adsdb", 2000))[0]
    assert first.status == IncidentStatus.PENDING
    both = c.process(alert("HighLatency", "ads", 2010))[0]
    assert both.id == first.id and both.status == IncidentStatus.OPEN


def test_outage_alerts_are_never_held() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=120), graph=shop())
    assert c.process(alert("ServiceDown", "cart", 100))[0].status == IncidentStatus.OPEN
    off = TopologyCorrelator(CorrelatorConfig(confirm_after=0), graph=shop())
    assert off.process(alert("HighCPU", "cart", 100))[0].status == IncidentStatus.OPEN


def test_pending_incident_survives_restore() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=120), graph=shop())
    held = c.process(alert("HighCPU", "ads", 100))[0]
    again = TopologyCorrelator(CorrelatorConfig(confirm_after=120), graph=shop())
    again.restore([held])
    assert again.process(alert("HighCPU", "ads", 100)) == []
    assert again.tick(220)[0].status == IncidentStatus.OPEN  # still firing: raised


def test_replicas_of_one_workload_failing_together_are_one_incident() -> None:
    g = shop()
    for pod in ("cart-0", "cart-1", "cart-2"):
        g.add_node(pod, "pod", {"service": "cart"})
        g.add_edge("cart", pod, "depends-on")
    g.add_node("ads-0", "pod", {"service": "ads"})
    g.add_edge("ads", "ads-0", "depends-on")
    c = TopologyCorrelator(graph=g)
    ids = {c.process(alert("PodNotReady", "cart", 100, pod=p))[-1].id
           for p in ("cart-0", "cart-1", "cart-2")}
    assert len(ids) == 1
    other = c.process(alert("PodNotReady", "ads", 100, pod="ads-0"))[-1]
    assert other.id not in ids  # another workload's pod is not a replica


def test_a_lasting_far_effect_joins_the_incident_of_its_cause() -> None:
    chain = [("edge", "api"), ("api", "logic"), ("logic", "store"), ("store", "disk")]
    for reach, together in ((4, True), (1, False)):
        g = ServiceGraph.from_edges(chain)
        c = TopologyCorrelator(CorrelatorConfig(confirm_after=120, confirm_reach=reach),
                               graph=g)
        root = c.process(alert("HighMemory", "disk", 100))[0]
        c.process(alert("HighLatency", "disk", 110))
        far = c.process(alert("HighLatency", "edge", 200))[0]  # three quiet hops between
        assert far.status == IncidentStatus.PENDING and far.id != root.id
        out = c.tick(320)
        final = {i.id: i for i in out}
        if together:
            assert final[far.id].timeline[-1].event == "merged_into" and not final[far.id].raised
            assert "edge" in final[root.id].services
        else:
            assert final[far.id].status == IncidentStatus.OPEN
    # a blip far above clears within the hold and never reaches the incident
    g = ServiceGraph.from_edges(chain)
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=120), graph=g)
    root = c.process(alert("HighMemory", "disk", 100))[0]
    c.process(alert("HighLatency", "disk", 110))
    c.process(alert("HighLatency", "edge", 200))
    c.process(alert("HighLatency", "edge", 200, resolved_at=260))
    assert all(i.id != root.id for i in c.tick(320))
    assert "edge" not in c.incident(root.id).services


def test_saturation_is_not_taken_for_a_callees_effect() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0), graph=shop())
    slow = c.process(alert("Lat", "redis", 100))[0]
    # cart calls redis: its latency may be redis' effect, its CPU saturation is not
    assert c.process(alert("Lat", "cart", 110))[0].id == slow.id
    assert c.process(alert("HighCPU", "checkout", 120))[0].id != slow.id  # checkout calls cart


def test_a_new_problem_under_an_old_one_is_not_merged_into_it() -> None:
    g = shop()
    g.add_node("cart-0", "pod", {"service": "cart"})
    g.add_edge("cart", "cart-0", "depends-on")
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0), graph=g)
    old = c.process(alert("Lat", "cart", 100))[0]
    pod = c.process(alert("PodNotReady", "cart", 400, pod="cart-0"))[0]
    assert pod.id != old.id  # the pod died long after cart's problem began
    # cart's new alert is the dead pod's effect; the old incident is not merged into it
    out = c.process(alert("HighErrorRate", "cart", 410))
    assert [i.id for i in out] == [pod.id]
    assert c.incident(old.id).status == IncidentStatus.OPEN


def test_host_down_takes_the_alerts_it_explains_that_arrived_before_it() -> None:
    rule = InhibitionRule(source=(Matcher("alertname", "HostDown"),), target=(), topology=True)
    c = TopologyCorrelator(CorrelatorConfig(inhibitions=(rule,), confirm_after=0), graph=shop())
    first = c.process(alert("Lat", "redis", 40, score=5))[0]  # an unrelated problem below cart
    assert c.process(alert("Lat", "cart", 50, score=5))[0].id == first.id  # redis' effect
    # the pod dies; on its own it looks like the cause of cart's latency
    assert c.process(alert("PodNotReady", "cart", 60, score=9, pod="cart-0"))[0].id == first.id
    out = c.process(Alert({"alertname": "HostDown", "host": "node-1"}, {"score": "3"},
                          starts_at=60))
    host = out[0]
    assert host.id != first.id  # not glued to the redis incident
    assert {a.name for a in host.alerts} == {"HostDown", "PodNotReady", "Lat"}
    assert host.root_causes[0].service == "node-1"
    assert [rc.service for rc in host.root_causes] == ["node-1"]  # the rest are its effects
    left = c.incident(first.id)
    assert [a.labels["service"] for a in left.alerts] == ["redis"]
    assert any(e.event == "alert_moved" for e in left.timeline)
    # an alert that began well before the host went down is not taken
    c2 = TopologyCorrelator(CorrelatorConfig(inhibitions=(rule,), confirm_after=0),
                            graph=shop())
    old = c2.process(alert("Lat", "cart", 0, score=5))[0]
    c2.process(Alert({"alertname": "HostDown", "host": "node-1"}, {"score": "3"},
                     starts_at=60))
    assert [a.name for a in c2.incident(old.id).alerts] == ["Lat"]


def test_a_neighbours_new_alert_does_not_reopen_a_resolved_incident() -> None:
    c = TopologyCorrelator(CorrelatorConfig(quiet_period=0, reopen_window=600,
                                            confirm_after=0), graph=shop())
    inc = c.process(alert("HighCPU", "cart", 100))[0]
    c.process(alert("HighCPU", "cart", 100, resolved_at=200))
    c.tick(200)
    nxt = c.process(alert("Lat", "frontend", 300))[0]  # frontend calls cart
    assert nxt.id != inc.id and nxt.timeline[0].event == "opened"
    assert c.process(alert("HighCPU", "cart", 350))[0].id == inc.id  # cart itself: reopened


def test_a_lasting_alert_whose_resolution_arrives_before_the_tick_is_not_a_blip() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=120, quiet_period=300), graph=shop())
    held = c.process(alert("HighCPU", "ads", 100))[0]
    c.process(alert("HighCPU", "ads", 100, resolved_at=400))  # lasted 300 s, reached us late
    raised = c.tick(400)[0]
    assert raised.id == held.id and raised.status == IncidentStatus.OPEN and raised.raised
    assert c.stats["transient"] == 0
    assert c.tick(700)[0].status == IncidentStatus.RESOLVED  # then resolves as usual


def test_an_alert_that_began_before_its_incident_resolved_joins_it_late() -> None:
    c = TopologyCorrelator(CorrelatorConfig(confirm_after=0, quiet_period=0), graph=shop())
    inc = c.process(alert("Lat", "frontend", 100))[0]
    c.process(alert("Lat", "frontend", 100, resolved_at=200))
    c.tick(200)
    # cart (frontend's dependency) began at 90, but its partition was slow to deliver
    late = c.process(alert("HighCPU", "cart", 90))[0]
    assert late.id == inc.id and "cart" in late.services
