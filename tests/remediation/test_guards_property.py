"""Property: over random incident streams, no applied action breaks a guard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from aiops.model import ActionStatus, Alert, Incident, IncidentStatus, RootCause
from remediation.engine import Remediator
from remediation.executors.base import ActionRequest, ExecutionResult
from remediation.guards import Guards
from remediation.learning import MemoryPosteriors, ThompsonLearner
from remediation.ports import MemoryApprovals, MemoryAudit
from remediation.runbook import ActionKind, ActionSpec, GuardSpec, Runbook

SERVICES = ("cart", "db", "search", "auth")


class RecordingExecutor:
    """Records what was really applied (dry runs excluded) with the clock at that moment."""

    def __init__(self, clock: list[float], replicas: Mapping[str, int]) -> None:
        self.clock = clock
        self.applied: list[tuple[float, str, str, int]] = []
        self.dry_runs = 0
        self._replicas = replicas

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        return self._replicas[target]

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        if dry_run:
            self.dry_runs += 1
        else:
            self.applied.append((self.clock[0], request.target, request.kind,
                                 int(request.params["batch"])))
        return ExecutionResult("ok")


events = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=400.0),      # time since the previous incident
        st.sampled_from(SERVICES),                       # root cause
        st.booleans(),                                   # resolves (verification)
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    stream=events,
    cooldown=st.sampled_from([0.0, 60.0, 300.0]),
    per_window=st.integers(min_value=0, max_value=5),
    global_max=st.integers(min_value=0, max_value=8),
    share=st.sampled_from([0.2, 0.34, 0.5, 1.0]),
    batch=st.integers(min_value=1, max_value=3),
    replicas=st.lists(st.integers(min_value=1, max_value=6), min_size=4, max_size=4),
    dry_run=st.sampled_from([False, False, False, True]),
    kill_switch=st.sampled_from([False, False, False, True]),
)
def test_no_applied_action_violates_a_guard(
    stream: list[tuple[float, str, bool]], cooldown: float, per_window: int, global_max: int,
    share: float, batch: int, replicas: list[int], dry_run: bool, kill_switch: bool,
) -> None:
    clock = [1_000.0]
    window, global_window = 600.0, 900.0
    replica_map = dict(zip(SERVICES, replicas, strict=True))
    executor = RecordingExecutor(clock, replica_map)
    spec = GuardSpec(cooldown_s=cooldown, max_actions_per_window=per_window, window_s=window,
                     max_targets_per_incident=1, max_replica_share=share)
    runbook = Runbook(name="rb", guards=spec, actions=(
        ActionSpec(name="restart", kind=ActionKind.RESTART, batch=batch),
        ActionSpec(name="scale-down", kind=ActionKind.SCALE, params={"delta": -batch, "min": 0}),
    ))
    audit = MemoryAudit()
    remediator = Remediator(
        [runbook], {"kubernetes": executor},
        Guards(kill_switch=kill_switch, max_actions_per_window=global_max,
               window_s=global_window),
        ThompsonLearner(MemoryPosteriors(), __import__("random").Random(0)), audit,
        MemoryApprovals(), dry_run=dry_run, clock=lambda: clock[0],
    )
    statuses = []
    for i, (gap, cause, resolves) in enumerate(stream):
        clock[0] += gap
        alert = Alert(labels={"alertname": "Down", "service": cause}, annotations={},
                      starts_at=clock[0])
        incident = Incident(id=f"i{i}", status=IncidentStatus.OPEN, title="t",
                            severity="critical", opened_at=clock[0], updated_at=clock[0],
                            alerts=(alert,), services=(cause,),
                            root_causes=(RootCause(cause, 0.9),))
        actions = remediator.handle(incident)
        statuses.extend(a.status for a in actions)
        remediator.handle(incident)  # a redelivery never acts again
        if resolves:
            clock[0] += 1.0
            remediator.handle(Incident(**{**{f: getattr(incident, f) for f in (
                "id", "title", "severity", "opened_at", "alerts", "services", "root_causes")},
                "status": IncidentStatus.RESOLVED, "updated_at": clock[0], "version": 2}))

    applied = executor.applied
    event(f"applied: {'none' if not applied else 'some'}")
    if dry_run or kill_switch:
        assert applied == []
        if kill_switch:
            assert executor.dry_runs == 0 and ActionStatus.SUCCEEDED not in statuses
        return
    for j, (ts, target, kind, size) in enumerate(applied):
        earlier = applied[:j]
        same_target = [t for t, tgt, _, _ in earlier if tgt == target]
        assert all(ts - t >= cooldown for t in same_target), "cooldown violated"
        assert sum(1 for t, *_ in earlier if ts - t < window) < per_window, "runbook window"
        assert sum(1 for t, *_ in earlier if ts - t < global_window) < global_max, "global"
        affected = size if kind == "restart" else min(size, replica_map[target])
        assert affected / replica_map[target] <= share + 1e-9, "replica share"
    # Every decision, refusals included, is in the audit trail.
    assert len(audit.entries) >= len(statuses)
    assert {e.decision for e in audit.entries} <= {
        "applied", "refused", "verified", "verification_failed", "failed", "disabled",
        "escalated"}
