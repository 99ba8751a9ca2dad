"""What remediation needs from storage, as protocols (the SQL versions live in
``aiops.storage.remediation``), with in-memory versions for tests and simulations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One decision: what (action, target), why (reason), who (actor), when, outcome."""

    ts: float
    incident_id: str
    action_id: str
    runbook: str
    action: str
    kind: str
    target: str
    decision: str
    reason: str
    actor: str = "engine"
    outcome: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> None: ...

    def decided(self, incident_id: str) -> bool:
        """Whether any decision was recorded for the incident (restart idempotence)."""
        ...


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    incident_id: str
    runbook: str
    action: str
    kind: str
    target: str
    signature: str
    params: Mapping[str, Any]
    requested_at: float
    status: str = "pending"  # pending, approved, rejected, executed
    decided_at: float | None = None
    decided_by: str = ""
    note: str = ""


class ApprovalStore(Protocol):
    def request(self, approval: Approval) -> None: ...

    def approved(self) -> list[Approval]:
        """Approved and not yet executed."""
        ...

    def finish(self, approval_id: str, now: float) -> None: ...


class MemoryAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def decided(self, incident_id: str) -> bool:
        return any(e.incident_id == incident_id for e in self.entries)


class MemoryApprovals:
    def __init__(self) -> None:
        self.items: dict[str, Approval] = {}

    def request(self, approval: Approval) -> None:
        self.items.setdefault(approval.id, approval)

    def decide(self, approval_id: str, approve: bool, actor: str, now: float) -> None:
        item = self.items[approval_id]
        self.items[approval_id] = replace(item, status="approved" if approve else "rejected",
                                          decided_at=now, decided_by=actor)

    def approved(self) -> list[Approval]:
        return [a for a in self.items.values() if a.status == "approved"]

    def finish(self, approval_id: str, now: float) -> None:
        self.items[approval_id] = replace(self.items[approval_id], status="executed")


class MetricProbe(Protocol):
    def value(self, metric: str, labels: Mapping[str, str]) -> float | None: ...
