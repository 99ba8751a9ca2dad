"""Remediation actions, ``aiops.action/v1``."""

from __future__ import annotations

from typing import Any

from aiops.model import (
    ActionStatus,
    DecodeError,
    RemediationAction,
)
from aiops.wire.shapes.base import (
    ACTION_SCHEMA,
    _obj,
    dumps,
    loads,
)
from aiops.wire.timefmt import format_time, parse_time


def action_to_dict(action: RemediationAction) -> dict[str, Any]:
    return {
        "schema": ACTION_SCHEMA,
        "id": action.id,
        "incident_id": action.incident_id,
        "runbook": action.runbook,
        "kind": action.kind,
        "target": action.target,
        "params": dict(action.params),
        "status": action.status.value,
        "dry_run": action.dry_run,
        "reason": action.reason,
        "ts": format_time(action.ts),
    }


def action_from_dict(raw: object) -> RemediationAction:
    obj = _obj(raw, "action")
    if obj.get("schema") != ACTION_SCHEMA:
        raise DecodeError(f"unsupported action schema {obj.get('schema')!r}")
    try:
        return RemediationAction(
            id=str(obj["id"]),
            incident_id=str(obj["incident_id"]),
            runbook=str(obj["runbook"]),
            kind=str(obj["kind"]),
            target=str(obj["target"]),
            params=dict(obj.get("params") or {}),
            status=ActionStatus(obj["status"]),
            dry_run=bool(obj["dry_run"]),
            reason=str(obj.get("reason", "")),
            ts=parse_time(obj["ts"], field="ts") or 0.0,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DecodeError(f"malformed action: {exc!r}") from exc


def encode_action(action: RemediationAction) -> bytes:
    return dumps(action_to_dict(action))


def decode_action(data: bytes | str) -> RemediationAction:
    return action_from_dict(loads(data))
