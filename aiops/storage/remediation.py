"""Remediation's tables and repository: the audit trail, approvals and learned posteriors.

:class:`RemediationStore` implements the protocols of :mod:`remediation.ports` and
:mod:`remediation.learning` on the shared database, so the remediation package stays free of
SQL while its state survives restarts and is readable by the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from aiops.model import ConflictError, NotFoundError
from aiops.storage.dml import fit, upsert
from aiops.storage.tables import Base
from remediation.learning import Posterior
from remediation.ports import Approval, AuditEntry


class AuditRecord(Base):
    """One remediation decision, refusals included; append-only."""

    __tablename__ = "remediation_audit"
    __table_args__ = (Index("ix_remediation_audit_incident_ts", "incident_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[float] = mapped_column(Double, index=True)
    incident_id: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[str] = mapped_column(String(64))
    runbook: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class ApprovalRecord(Base):
    """An action that waits for a person; keyed by the action id."""

    __tablename__ = "remediation_approvals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    runbook: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    signature: Mapped[str] = mapped_column(String(512))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[float] = mapped_column(Double)
    decided_at: Mapped[float | None] = mapped_column(Double)
    decided_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)


class PosteriorRecord(Base):
    """Beta(alpha, beta) of one action's success for one incident signature."""

    __tablename__ = "remediation_posteriors"

    signature: Mapped[str] = mapped_column(String(512), primary_key=True)
    action: Mapped[str] = mapped_column(String(255), primary_key=True)
    alpha: Mapped[float] = mapped_column(Double)
    beta: Mapped[float] = mapped_column(Double)
    successes: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[float] = mapped_column(Double)


class SwitchRecord(Base):
    """A runtime switch operators flip through the API (the global kill switch)."""

    __tablename__ = "remediation_switches"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[float] = mapped_column(Double)
    updated_by: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)


KILL_SWITCH = "kill_switch"

audit_t = cast(Table, AuditRecord.__table__)
switches_t = cast(Table, SwitchRecord.__table__)
approvals_t = cast(Table, ApprovalRecord.__table__)
posteriors_t = cast(Table, PosteriorRecord.__table__)

_AUDIT_COLS = (
    "ts",
    "incident_id",
    "action_id",
    "runbook",
    "action",
    "kind",
    "target",
    "decision",
    "reason",
    "actor",
    "outcome",
    "details",
)
_APPROVAL_COLS = (
    "id",
    "incident_id",
    "runbook",
    "action",
    "kind",
    "target",
    "signature",
    "params",
    "status",
    "requested_at",
    "decided_at",
    "decided_by",
    "note",
)
_POSTERIOR_COLS = ("alpha", "beta", "successes", "failures", "consecutive_failures", "disabled")


def _approval(row: Any) -> Approval:
    return Approval(**{c: getattr(row, c) for c in _APPROVAL_COLS})


class RemediationStore:
    """Audit log, approval store and posterior store over one engine."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    # ------------------------------------------------------------------ audit

    def record(self, entry: AuditEntry) -> None:
        values = {c: getattr(entry, c) for c in _AUDIT_COLS}
        values["details"] = dict(entry.details)
        with self._engine.begin() as conn:
            conn.execute(audit_t.insert().values(fit(audit_t, values)))

    def decided(self, incident_id: str) -> bool:
        query = select(audit_t.c.id).where(audit_t.c.incident_id == incident_id).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def audit(
        self,
        *,
        incident_id: str | None = None,
        decision: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        c = audit_t.c
        query = select(audit_t).order_by(c.ts.desc(), c.id.desc()).limit(limit).offset(offset)
        if incident_id is not None:
            query = query.where(c.incident_id == incident_id)
        if decision is not None:
            query = query.where(c.decision == decision)
        with self._engine.connect() as conn:
            return [
                AuditEntry(**{k: getattr(r, k) for k in _AUDIT_COLS}) for r in conn.execute(query)
            ]

    def applied_since(self, since: float) -> list[AuditEntry]:
        """Applied actions (for rebuilding guard state after a restart), oldest first."""
        c = audit_t.c
        query = select(audit_t).where(c.decision == "applied", c.ts >= since).order_by(c.ts)
        with self._engine.connect() as conn:
            return [
                AuditEntry(**{k: getattr(r, k) for k in _AUDIT_COLS}) for r in conn.execute(query)
            ]

    def unverified(self, since: float) -> list[AuditEntry]:
        """Applied actions with no verification verdict yet (to resume after a restart)."""
        c = audit_t.c
        query = (
            select(audit_t)
            .where(c.ts >= since, c.decision.in_(("applied", "verified", "verification_failed")))
            .order_by(c.ts, c.id)
        )
        last: dict[str, AuditEntry] = {}
        with self._engine.connect() as conn:
            for r in conn.execute(query):
                last[r.action_id] = AuditEntry(**{k: getattr(r, k) for k in _AUDIT_COLS})
        return [e for e in last.values() if e.decision == "applied"]

    # ------------------------------------------------------------------ approvals

    def request(self, approval: Approval) -> None:
        values = {c: getattr(approval, c) for c in _APPROVAL_COLS}
        values["params"] = dict(approval.params)
        with self._engine.begin() as conn:
            conn.execute(
                upsert(conn, approvals_t)
                .values(fit(approvals_t, values))
                .on_conflict_do_nothing(index_elements=["id"])
            )

    def approved(self) -> list[Approval]:
        query = select(approvals_t).where(approvals_t.c.status == "approved")
        with self._engine.connect() as conn:
            return [_approval(r) for r in conn.execute(query)]

    def finish(self, approval_id: str, now: float) -> None:
        c = approvals_t.c
        with self._engine.begin() as conn:
            conn.execute(
                update(approvals_t)
                .where(c.id == approval_id, c.status == "approved")
                .values(status="executed")
            )

    def approvals(
        self, *, incident_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Approval]:
        c = approvals_t.c
        query = select(approvals_t).order_by(c.requested_at.desc()).limit(limit)
        if incident_id is not None:
            query = query.where(c.incident_id == incident_id)
        if status is not None:
            query = query.where(c.status == status)
        with self._engine.connect() as conn:
            return [_approval(r) for r in conn.execute(query)]

    def decide(self, approval_id: str, approve: bool, actor: str, note: str = "") -> Approval:
        """Approve or reject a pending approval, and audit it, in one transaction."""
        c = approvals_t.c
        now = self._clock()
        status = "approved" if approve else "rejected"
        with self._engine.begin() as conn:
            row = conn.execute(select(approvals_t).where(c.id == approval_id)).first()
            if row is None:
                raise NotFoundError("approval", approval_id)
            if row.status != "pending":
                raise ConflictError("approval", approval_id, f"already {row.status}")
            conn.execute(
                update(approvals_t)
                .where(c.id == approval_id, c.status == "pending")
                .values(status=status, decided_at=now, decided_by=actor, note=note)
            )
            conn.execute(
                audit_t.insert().values(
                    ts=now,
                    incident_id=row.incident_id,
                    action_id=row.id,
                    runbook=row.runbook,
                    action=row.action,
                    kind=row.kind,
                    target=row.target,
                    decision=status,
                    reason=note or f"{status} through the API",
                    actor=actor,
                    outcome=status,
                    details={"signature": row.signature},
                )
            )
        return replace(_approval(row), status=status, decided_at=now, decided_by=actor, note=note)

    # ------------------------------------------------------------------ posteriors

    def get(self, signature: str, action: str) -> Posterior:
        c = posteriors_t.c
        query = select(posteriors_t).where(c.signature == signature, c.action == action)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return Posterior()
        return Posterior(**{k: getattr(row, k) for k in _POSTERIOR_COLS})

    def put(self, signature: str, action: str, posterior: Posterior) -> None:
        values: dict[str, Any] = {k: getattr(posterior, k) for k in _POSTERIOR_COLS}
        values.update(signature=signature, action=action, updated_at=self._clock())
        with self._engine.begin() as conn:
            ins = upsert(conn, posteriors_t).values(values)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["signature", "action"],
                    set_={k: ins.excluded[k] for k in values if k not in ("signature", "action")},
                )
            )

    def posteriors(self, signature: str | None = None) -> list[tuple[str, str, Posterior]]:
        c = posteriors_t.c
        query = select(posteriors_t).order_by(c.signature, c.action)
        if signature is not None:
            query = query.where(c.signature == signature)
        with self._engine.connect() as conn:
            return [
                (r.signature, r.action, Posterior(**{k: getattr(r, k) for k in _POSTERIOR_COLS}))
                for r in conn.execute(query)
            ]

    def set_disabled(self, signature: str, action: str, disabled: bool) -> Posterior:
        """Re-enable (or disable) an action for a signature; re-enabling clears the streak."""
        current = self.get(signature, action)
        updated = replace(
            current,
            disabled=disabled,
            consecutive_failures=current.consecutive_failures if disabled else 0,
        )
        self.put(signature, action, updated)
        return updated

    # ------------------------------------------------------------------ switches

    def kill_switch(self) -> bool:
        """Whether an operator has thrown the kill switch (read on every decision)."""
        query = select(switches_t.c.enabled).where(switches_t.c.name == KILL_SWITCH)
        with self._engine.connect() as conn:
            return bool(conn.execute(query).scalar_one_or_none())

    def switch(self, name: str = KILL_SWITCH) -> dict[str, Any]:
        query = select(switches_t).where(switches_t.c.name == name)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return {"name": name, "enabled": False, "updated_at": None, "updated_by": "",
                    "note": ""}
        return {c: getattr(row, c) for c in ("name", "enabled", "updated_at", "updated_by",
                                             "note")}

    def set_kill_switch(self, enabled: bool, actor: str, note: str = "") -> dict[str, Any]:
        """Throw or release the kill switch, and audit who did it and why."""
        now = self._clock()
        values = {"name": KILL_SWITCH, "enabled": enabled, "updated_at": now,
                  "updated_by": actor, "note": note}
        decision = "kill_switch_on" if enabled else "kill_switch_off"
        with self._engine.begin() as conn:
            ins = upsert(conn, switches_t).values(values)
            conn.execute(ins.on_conflict_do_update(
                index_elements=["name"], set_={k: ins.excluded[k] for k in values if k != "name"}
            ))
            conn.execute(audit_t.insert().values(
                ts=now, incident_id="", action_id="", runbook="", action="", kind="",
                target="*", decision=decision, reason=note or decision, actor=actor,
                outcome=decision, details={},
            ))
        return values

