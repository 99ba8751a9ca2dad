"""A what-if simulation of the learning loop: the real remediator against a simulated world.

Each incident of one kind is handled by the :class:`~remediation.engine.Remediator`; the
simulated executor 'fixes' it with the chosen action's true success probability, and the
incident then resolves within the verification window (success) or the window runs out
(failure). Used by the learning test and ``benchmarks/action_learning.py``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from aiops.model import Alert, Incident, IncidentStatus, RootCause
from remediation.engine import Remediator
from remediation.executors.base import ActionRequest, ExecutionResult
from remediation.guards import Guards
from remediation.learning import MemoryPosteriors, ThompsonLearner
from remediation.ports import MemoryApprovals, MemoryAudit
from remediation.runbook import ActionKind, ActionSpec, GuardSpec, Runbook, SuccessCheck


class _SimulatedExecutor:
    def __init__(self) -> None:
        self.last: str | None = None

    def replicas(self, target: str, params: Mapping[str, Any]) -> int | None:
        return None

    def execute(self, request: ActionRequest, *, dry_run: bool) -> ExecutionResult:
        self.last = str(request.params["name"])
        return ExecutionResult(f"simulated {self.last}")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate_learning(
    success: Mapping[str, float], incidents: int, seed: int, *, window_s: float = 60.0
) -> list[str | None]:
    """The action chosen for each of ``incidents`` incidents of one kind (None: escalated)."""
    rng = random.Random(seed)
    clock = _Clock()
    executor = _SimulatedExecutor()
    runbook = Runbook(
        name="sim",
        actions=tuple(ActionSpec(name=name, kind=ActionKind.HTTP, executor="sim",
                                 params={"url": "http://sim.invalid/", "name": name})
                      for name in success),
        guards=GuardSpec(cooldown_s=0, max_actions_per_window=1_000_000,
                         max_targets_per_incident=1),
        success=SuccessCheck(window_s=window_s),
    )
    remediator = Remediator(
        [runbook], {"sim": executor}, Guards(max_actions_per_window=1_000_000),
        ThompsonLearner(MemoryPosteriors(), random.Random(seed + 1)), MemoryAudit(),
        MemoryApprovals(), dry_run=False, clock=clock,
    )
    alert = Alert(labels={"alertname": "HighErrorRate", "service": "api"}, annotations={},
                  starts_at=0.0)
    chosen: list[str | None] = []
    for i in range(incidents):
        clock.now += 3600.0
        incident = Incident(id=f"sim-{i}", status=IncidentStatus.OPEN, title="sim",
                            severity="critical", opened_at=clock.now, updated_at=clock.now,
                            alerts=(alert,), services=("api",),
                            root_causes=(RootCause("api", 0.9),))
        executor.last = None
        remediator.handle(incident)
        chosen.append(executor.last)
        if executor.last is None:
            continue
        if rng.random() < success[executor.last]:
            clock.now += window_s / 2
            remediator.handle(Incident(**{**{f: getattr(incident, f) for f in (
                "id", "title", "severity", "opened_at", "alerts", "services", "root_causes")},
                "status": IncidentStatus.RESOLVED, "updated_at": clock.now, "version": 2}))
        else:
            clock.now += window_s + 1
            remediator.tick(clock.now)
    return chosen
