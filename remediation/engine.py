"""The remediator: match a runbook, choose an action, pass the guards, apply, verify, learn.

For each incident first seen open it decides once (also across restarts: the audit trail
remembers). The decision is one of: escalate (no action is expected to work well enough),
refused (a guard said no), pending approval, dry run, applied or failed. Every decision
goes to the audit trail and comes back as a :class:`~aiops.model.RemediationAction`. An
applied action is then watched for the runbook's verification window: the incident
resolving (or the metric returning within bounds) is a success, the window running out a
failure, and the outcome updates the (signature, action) posterior.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiops.model import ActionStatus, Incident, IncidentStatus, RemediationAction
from remediation.executors.base import ActionRequest, Executor, ExecutorError, scaled
from remediation.guards import Guards, Proposal
from remediation.learning import ThompsonLearner, incident_signature
from remediation.ports import Approval, ApprovalStore, AuditEntry, AuditLog, MetricProbe
from remediation.runbook import ActionKind, ActionSpec, Runbook
from remediation.urls import UnsafeUrl

log = logging.getLogger(__name__)

_DECISION_STATUS = {
    "dry_run": ActionStatus.DRY_RUN,
    "refused": ActionStatus.REFUSED,
    "escalated": ActionStatus.REFUSED,
    "pending_approval": ActionStatus.PENDING_APPROVAL,
    "applied": ActionStatus.SUCCEEDED,
    "failed": ActionStatus.FAILED,
    "verified": ActionStatus.SUCCEEDED,
    "verification_failed": ActionStatus.FAILED,
}


def action_id(incident_id: str, action: str) -> str:
    raw = f"{incident_id}:{action}"
    return raw if len(raw) <= 64 else hashlib.sha256(raw.encode()).hexdigest()[:64]


@dataclass
class _Watch:
    incident_id: str
    action_id: str
    runbook: Runbook
    spec: ActionSpec
    target: str
    signature: str
    deadline: float


class Remediator:
    def __init__(
        self,
        runbooks: Sequence[Runbook],
        executors: Mapping[str, Executor],
        guards: Guards,
        learner: ThompsonLearner,
        audit: AuditLog,
        approvals: ApprovalStore,
        *,
        dry_run: bool = True,
        probe: MetricProbe | None = None,
        approval_ttl_s: float = 3600.0,
        kill_switch: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._runbooks = list(runbooks)
        self._executors = dict(executors)
        self._guards = guards
        self._learner = learner
        self._audit = audit
        self._approvals = approvals
        self.dry_run = dry_run
        self._probe = probe
        self._clock = clock
        self._approval_ttl_s = approval_ttl_s
        self._configured_kill = guards.kill_switch
        self._kill_switch = kill_switch
        self._decided: set[str] = set()
        self._resolved: set[str] = set()
        self._watching: dict[str, _Watch] = {}

    # ------------------------------------------------------------------ entry points

    def restore(self, applied: Sequence[AuditEntry]) -> None:
        """Resume watching actions applied before a restart and not yet verified (from the
        audit trail), so their outcome still reaches the learner."""
        for entry in applied:
            runbook = next((r for r in self._runbooks if r.name == entry.runbook), None)
            if runbook is None:
                continue
            spec = next((a for a in runbook.actions if a.name == entry.action), None)
            if spec is None:
                continue
            self._decided.add(entry.incident_id)
            self._watching[entry.incident_id] = _Watch(
                entry.incident_id, entry.action_id, runbook, spec, entry.target,
                str(entry.details.get("signature", "")), entry.ts + runbook.success.window_s,
            )

    def _refresh_kill_switch(self) -> None:
        """The configured switch, or the runtime one an operator flips through the API."""
        if self._kill_switch is not None:
            self._guards.kill_switch = self._configured_kill or self._kill_switch()

    def handle(self, incident: Incident) -> list[RemediationAction]:
        self._refresh_kill_switch()
        out: list[RemediationAction] = []
        if incident.status == IncidentStatus.RESOLVED:
            self._resolved.add(incident.id)
        watch = self._watching.get(incident.id)
        if watch is not None and incident.status == IncidentStatus.RESOLVED:
            out.append(self._verdict(watch, True, "incident resolved within the window"))
        if incident.status != IncidentStatus.OPEN or incident.id in self._decided:
            return out
        self._decided.add(incident.id)
        if self._audit.decided(incident.id):
            return out  # decided before a restart
        runbook = next((r for r in self._runbooks if r.match.matches(incident)), None)
        if runbook is None or not incident.root_causes:
            return out
        out.extend(self._decide(incident, runbook))
        return out

    def tick(self, now: float) -> list[RemediationAction]:
        out: list[RemediationAction] = []
        if self._approvals.approved():
            self._refresh_kill_switch()
        for watch in list(self._watching.values()):
            check = watch.runbook.success
            if check.check == "metric_within" and self._probe is not None:
                value = self._probe.value(check.metric, {**check.labels, "service": watch.target})
                if value is not None and (check.min is None or value >= check.min) and (
                        check.max is None or value <= check.max):
                    out.append(self._verdict(watch, True, f"{check.metric}={value:g} in bounds"))
                    continue
            if now >= watch.deadline:
                out.append(self._verdict(watch, False, f"not recovered within "
                                                       f"{check.window_s:.0f}s"))
        for approval in self._approvals.approved():
            out.extend(self._run_approved(approval))
        return out

    # ------------------------------------------------------------------ deciding

    def _decide(self, incident: Incident, runbook: Runbook) -> list[RemediationAction]:
        signature = incident_signature(incident)
        choice = self._learner.choose(signature, [a.name for a in runbook.actions],
                                      escalate_below=runbook.learning.escalate_below)
        if choice.action is None:
            spec = runbook.actions[0]
            return [self._emit(incident.id, runbook, spec, spec.target_for(incident),
                               "escalated", f"escalated to a human: {choice.reason}",
                               signature=signature)]
        spec = next(a for a in runbook.actions if a.name == choice.action)
        target = spec.target_for(incident)
        if spec.requires_approval and not self._guards.kill_switch:
            self._approvals.request(Approval(
                id=action_id(incident.id, spec.name), incident_id=incident.id,
                runbook=runbook.name, action=spec.name, kind=spec.kind.value, target=target,
                signature=signature, params=dict(spec.params), requested_at=self._clock(),
            ))
            return [self._emit(incident.id, runbook, spec, target, "pending_approval",
                               f"{choice.reason}; waits for approval", signature=signature)]
        return [self._apply(incident.id, runbook, spec, target, signature, choice.reason)]

    def _run_approved(self, approval: Approval) -> list[RemediationAction]:
        self._approvals.finish(approval.id, self._clock())
        runbook = next((r for r in self._runbooks if r.name == approval.runbook), None)
        if runbook is None:
            return []
        spec = next((a for a in runbook.actions if a.name == approval.action), None)
        if spec is None:
            return []
        stale = ""
        if approval.incident_id in self._resolved:
            stale = "the incident resolved before the approval"
        elif self._clock() - approval.requested_at > self._approval_ttl_s:
            stale = f"approved after {self._approval_ttl_s:.0f}s; the situation may have changed"
        if stale:
            return [self._emit(approval.incident_id, runbook, spec, approval.target, "refused",
                               f"not applied: {stale}", signature=approval.signature)]
        return [self._apply(approval.incident_id, runbook, spec, approval.target,
                            approval.signature, f"approved by {approval.decided_by}")]

    def _apply(self, incident_id: str, runbook: Runbook, spec: ActionSpec, target: str,
               signature: str, why: str) -> RemediationAction:
        executor = self._executors.get(spec.executor_name)
        request = ActionRequest(spec.kind.value, target, {**spec.params, "batch": spec.batch})
        try:
            proposal = self._proposal(incident_id, runbook, spec, target, executor)
        except ExecutorError as exc:
            return self._emit(incident_id, runbook, spec, target, "failed", str(exc),
                              signature=signature)
        verdict = self._guards.check(proposal, runbook.guards, self._clock())
        if not verdict.allowed:
            return self._emit(incident_id, runbook, spec, target, "refused", verdict.reason,
                              signature=signature)
        if executor is None:
            decision = "dry_run" if self.dry_run else "failed"
            return self._emit(incident_id, runbook, spec, target, decision,
                              f"{'dry-run: ' if self.dry_run else ''}would {spec.kind.value} "
                              f"{target} ({why}); no {spec.executor_name} executor configured",
                              signature=signature)
        try:
            result = executor.execute(request, dry_run=self.dry_run)
        except UnsafeUrl as exc:  # what came from an alert would have moved the request
            return self._emit(incident_id, runbook, spec, target, "refused",
                              f"not applied: {exc.reason}", signature=signature)
        except ExecutorError as exc:
            if not self.dry_run:
                self._guards.record(proposal, self._clock())
            return self._emit(incident_id, runbook, spec, target, "failed", str(exc),
                              signature=signature)
        if self.dry_run:
            return self._emit(incident_id, runbook, spec, target, "dry_run",
                              f"dry-run: {result.detail} ({why})", signature=signature,
                              details=dict(result.changes))
        now = self._clock()
        self._guards.record(proposal, now)
        aid = action_id(incident_id, spec.name)
        self._watching[incident_id] = _Watch(incident_id, aid, runbook, spec, target,
                                             signature, now + runbook.success.window_s)
        return self._emit(incident_id, runbook, spec, target, "applied",
                          f"{result.detail} ({why})", signature=signature,
                          details=dict(result.changes))

    def _proposal(self, incident_id: str, runbook: Runbook, spec: ActionSpec, target: str,
                  executor: Executor | None) -> Proposal:
        total = executor.replicas(target, spec.params) if executor is not None else None
        affected = spec.batch
        if spec.kind in (ActionKind.SCALE, ActionKind.PROCESS_SCALE):
            affected = max(0, (total or 0) - scaled(total or 0, spec.params))
        elif spec.kind is ActionKind.HTTP:
            affected = 0
        return Proposal(incident_id, runbook.name, target, affected, total)

    # ------------------------------------------------------------------ outcomes

    def _verdict(self, watch: _Watch, success: bool, why: str) -> RemediationAction:
        del self._watching[watch.incident_id]
        posterior = self._learner.record(
            watch.signature, watch.spec.name, success,
            disable_after=watch.runbook.learning.disable_after_failures,
        )
        decision = "verified" if success else "verification_failed"
        action = self._emit(watch.incident_id, watch.runbook, watch.spec, watch.target,
                            decision, why, signature=watch.signature,
                            details={"alpha": posterior.alpha, "beta": posterior.beta})
        if posterior.disabled and not success:
            self._emit(watch.incident_id, watch.runbook, watch.spec, watch.target, "disabled",
                       f"{posterior.consecutive_failures} failures in a row for "
                       f"{watch.signature}", signature=watch.signature)
        return action

    def _emit(self, incident_id: str, runbook: Runbook, spec: ActionSpec, target: str,
              decision: str, reason: str, *, signature: str,
              details: Mapping[str, Any] | None = None) -> RemediationAction:
        now = self._clock()
        aid = action_id(incident_id, spec.name)
        log.info("remediation %s: %s %s on %s: %s", decision, spec.kind.value, spec.name, target,
                 reason, extra={"event": f"remediation.{decision}", "incident": incident_id,
                                "runbook": runbook.name, "action": spec.name, "target": target,
                                "decision": decision, "reason": reason,
                                "dry_run": self.dry_run})
        self._audit.record(AuditEntry(
            ts=now, incident_id=incident_id, action_id=aid, runbook=runbook.name,
            action=spec.name, kind=spec.kind.value, target=target, decision=decision,
            reason=reason, outcome=decision, details={"signature": signature, **(details or {})},
        ))
        return RemediationAction(
            id=aid, incident_id=incident_id, runbook=runbook.name, kind=spec.kind.value,
            target=target, params=dict(spec.params),
            status=_DECISION_STATUS.get(decision, ActionStatus.PLANNED),
            dry_run=self.dry_run, reason=reason, ts=now,
        )
