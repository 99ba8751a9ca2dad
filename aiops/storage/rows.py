"""Domain objects <-> table rows, and the write statements that are shared between methods."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, and_, or_

from aiops.model import (
    ActionStatus,
    Alert,
    AlertStatus,
    RemediationAction,
)
from aiops.storage.dml import upsert
from aiops.storage.tables import (
    ActionRecord,
    AlertRecord,
    IncidentAlertRecord,
    IncidentRecord,
    IncidentServiceRecord,
    TimelineRecord,
)

alerts_t = cast(Table, AlertRecord.__table__)
incidents_t = cast(Table, IncidentRecord.__table__)
members_t = cast(Table, IncidentAlertRecord.__table__)
services_t = cast(Table, IncidentServiceRecord.__table__)
timeline_t = cast(Table, TimelineRecord.__table__)
actions_t = cast(Table, ActionRecord.__table__)

_RESOLVED = AlertStatus.RESOLVED.value


def _newest_per_fingerprint(alerts: Iterable[Alert]) -> list[Alert]:
    """One alert per fingerprint, the one :func:`write_alerts` would keep (a batch may repeat
    an alert, and PostgreSQL refuses to update one row twice in one statement), in
    fingerprint order so that concurrent writers lock rows in the same order and cannot
    deadlock."""
    best: dict[str, Alert] = {}
    for alert in alerts:
        held = best.get(alert.fingerprint)
        rank = (alert.starts_at, alert.status == AlertStatus.RESOLVED)
        if held is None or rank >= (held.starts_at, held.status == AlertStatus.RESOLVED):
            best[alert.fingerprint] = alert
    return [best[fp] for fp in sorted(best)]


def alert_values(alert: Alert, now: float) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        # bounded like their columns: a long label must not make the whole write fail
        "alertname": alert.name[:255],
        "service": alert.service[:255],
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "generator_url": alert.generator_url,
        "status": alert.status.value,
        "last_seen": now,
    }


def alert_from_row(row: Row[Any]) -> Alert:
    return Alert(
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        generator_url=row.generator_url,
        status=AlertStatus(row.status),
        fingerprint=row.fingerprint,
    )


def write_alerts(conn: Connection, alerts: Iterable[Alert], now: float) -> None:
    """Upsert alerts; a stored alert is replaced only by the same or a later occurrence.

    A later ``startsAt`` is a new occurrence and wins. Within one occurrence a resolved alert
    is final: a redelivered older "firing" copy must not reopen it.
    """
    rows = [alert_values(a, now) for a in _newest_per_fingerprint(alerts)]
    if not rows:
        return
    ins = upsert(conn, alerts_t)
    new, old = ins.excluded, alerts_t.c
    stmt = ins.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={k: new[k] for k in rows[0] if k != "fingerprint"},
        where=or_(
            new.starts_at > old.starts_at,
            and_(
                new.starts_at == old.starts_at,
                or_(old.status != _RESOLVED, new.status == _RESOLVED),
            ),
        ),
    )
    conn.execute(stmt, rows)


def action_values(action: RemediationAction) -> dict[str, Any]:
    return {
        "id": action.id,
        "incident_id": action.incident_id,
        "runbook": action.runbook,
        "kind": action.kind,
        "target": action.target,
        "params": dict(action.params),
        "status": action.status.value,
        "dry_run": action.dry_run,
        "reason": action.reason,
        "ts": action.ts,
    }


def action_from_row(row: Row[Any]) -> RemediationAction:
    return RemediationAction(
        id=row.id,
        incident_id=row.incident_id,
        runbook=row.runbook,
        kind=row.kind,
        target=row.target,
        params=dict(row.params),
        status=ActionStatus(row.status),
        dry_run=bool(row.dry_run),
        reason=row.reason,
        ts=row.ts,
    )
