"""Guards: the checks every action passes before it may change anything.

Order of checks (the first failing one is the recorded reason): kill switch, per-target
cooldown, actions per time window (global and per runbook), blast radius (targets per
incident; share of a service's replicas taken down at once). Dry-run is not a refusal: the
remediator still plans (and server-side dry-runs) the action but never applies it, and a dry
run does not count against cooldowns or windows because it changed nothing.

State is kept in memory and rebuilt from the audit trail on start (:meth:`Guards.restore`),
so a restart does not reset cooldowns.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from remediation.runbook import GuardSpec


@dataclass(frozen=True, slots=True)
class Proposal:
    """An action about to be applied."""

    incident_id: str
    runbook: str
    target: str
    replicas_affected: int = 1
    replicas_total: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str


ALLOWED = Verdict(True, "all guards passed")


class Guards:
    """Checks and records applied actions.

    >>> g = Guards(max_actions_per_window=10, window_s=60)
    >>> spec = GuardSpec(cooldown_s=30)
    >>> g.check(Proposal("i1", "rb", "cart"), spec, now=0).allowed
    True
    >>> g.record(Proposal("i1", "rb", "cart"), now=0)
    >>> g.check(Proposal("i2", "rb", "cart"), spec, now=10).reason
    'cooldown: cart was acted on 10s ago (cooldown 30s)'
    """

    def __init__(
        self, *, kill_switch: bool = False, max_actions_per_window: int = 20,
        window_s: float = 3600.0,
    ) -> None:
        self.kill_switch = kill_switch
        self._max_global = max_actions_per_window
        self._window_s = window_s
        self._last_by_target: dict[str, float] = {}
        self._applied: deque[tuple[float, str]] = deque()  # (ts, runbook)
        self._targets_by_incident: dict[str, set[str]] = {}

    def check(self, p: Proposal, spec: GuardSpec, now: float) -> Verdict:
        if self.kill_switch:
            return Verdict(False, "kill switch is on: no action is applied")
        last = self._last_by_target.get(p.target)
        if last is not None and now - last < spec.cooldown_s:
            return Verdict(False, f"cooldown: {p.target} was acted on {now - last:.0f}s ago "
                                  f"(cooldown {spec.cooldown_s:.0f}s)")
        recent = [rb for ts, rb in self._applied if now - ts < self._window_s]
        if len(recent) >= self._max_global:
            return Verdict(False, f"rate limit: {len(recent)} actions in the last "
                                  f"{self._window_s:.0f}s (max {self._max_global})")
        in_runbook = sum(1 for ts, rb in self._applied
                         if rb == p.runbook and now - ts < spec.window_s)
        if in_runbook >= spec.max_actions_per_window:
            return Verdict(False, f"rate limit: runbook {p.runbook} applied {in_runbook} "
                                  f"actions in {spec.window_s:.0f}s "
                                  f"(max {spec.max_actions_per_window})")
        targets = self._targets_by_incident.get(p.incident_id, set())
        if p.target not in targets and len(targets) >= spec.max_targets_per_incident:
            return Verdict(False, f"blast radius: incident already touched {len(targets)} "
                                  f"targets (max {spec.max_targets_per_incident})")
        if p.replicas_total:
            share = p.replicas_affected / p.replicas_total
            if share > spec.max_replica_share + 1e-9:
                return Verdict(False, f"blast radius: {p.replicas_affected} of "
                                      f"{p.replicas_total} replicas at once ({share:.0%}, "
                                      f"max {spec.max_replica_share:.0%})")
        return ALLOWED

    def record(self, p: Proposal, now: float) -> None:
        """Count an applied action (call only for actions that really changed something)."""
        self._last_by_target[p.target] = max(now, self._last_by_target.get(p.target, now))
        self._applied.append((now, p.runbook))
        while self._applied and now - self._applied[0][0] > 7 * 86400:
            self._applied.popleft()
        self._targets_by_incident.setdefault(p.incident_id, set()).add(p.target)

    def restore(self, applied: list[Proposal], times: list[float]) -> None:
        for p, ts in sorted(zip(applied, times, strict=True), key=lambda x: x[1]):
            self.record(p, ts)
