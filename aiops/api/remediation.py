"""Remediation API: approvals (approve/reject), the audit trail, the learned state, and the
runtime kill switch.

Approving does not execute anything here: the act stage picks approved actions up on its
next tick and runs them through the guards again (a kill switch thrown in the meantime still
wins), so the API process needs no executor credentials.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from aiops.api.deps import ApiDeps, deps
from aiops.api.edge import MAX_OFFSET, Name, Signature, Text
from aiops.model import ConflictError, NotFoundError
from aiops.storage.remediation import RemediationStore

router = APIRouter(prefix="/api/v1", tags=["remediation"])


class Decision(BaseModel):
    actor: Name = "api"
    note: Text = ""


class KillSwitch(BaseModel):
    enabled: bool
    actor: Name = "api"
    note: Text = ""


class Enable(BaseModel):
    signature: Signature
    action: Name
    disabled: bool = False


def _store(api: ApiDeps) -> RemediationStore:
    return RemediationStore(api.store.engine)


@router.get("/approvals")
def list_approvals(
    incident_id: str | None = None,
    status: str | None = Query(None, description="pending, approved, rejected, executed"),
    limit: int = Query(100, ge=1, le=1000),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    found = _store(api).approvals(incident_id=incident_id, status=status, limit=limit)
    return {"approvals": [asdict(a) for a in found]}


def _decide(approval_id: str, approve: bool, body: Decision | None, api: ApiDeps
            ) -> dict[str, Any]:
    body = body or Decision()
    try:
        return asdict(_store(api).decide(approval_id, approve, body.actor, body.note))
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/approvals/{approval_id}/approve")
def approve(approval_id: str, body: Decision | None = None, api: ApiDeps = Depends(deps)
            ) -> dict[str, Any]:
    return _decide(approval_id, True, body, api)


@router.post("/approvals/{approval_id}/reject")
def reject(approval_id: str, body: Decision | None = None, api: ApiDeps = Depends(deps)
           ) -> dict[str, Any]:
    return _decide(approval_id, False, body, api)


@router.get("/audit")
def audit(
    incident_id: str | None = None,
    decision: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    api: ApiDeps = Depends(deps),
) -> dict[str, Any]:
    entries = _store(api).audit(incident_id=incident_id, decision=decision, limit=limit,
                                offset=offset)
    return {"entries": [asdict(e) for e in entries], "limit": limit, "offset": offset}


@router.get("/learning")
def learning(signature: str | None = None, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    rows = _store(api).posteriors(signature)
    return {"posteriors": [
        {"signature": sig, "action": action, "mean": round(p.mean, 4), **asdict(p)}
        for sig, action, p in rows
    ]}


@router.post("/learning/enable")
def enable(body: Enable, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    """Re-enable (or disable) an action for an incident signature."""
    p = _store(api).set_disabled(body.signature, body.action, body.disabled)
    return {"signature": body.signature, "action": body.action, "mean": round(p.mean, 4),
            **asdict(p)}


@router.get("/remediation/kill-switch")
def get_kill_switch(api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    return _store(api).switch()


@router.put("/remediation/kill-switch")
def put_kill_switch(body: KillSwitch, api: ApiDeps = Depends(deps)) -> dict[str, Any]:
    """Throw (or release) the global kill switch: from the next decision on, nothing is
    applied, approved actions included; the change is audited with its actor and note."""
    return _store(api).set_kill_switch(body.enabled, body.actor, body.note)

