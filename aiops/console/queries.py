"""Counts the console shows that the repository does not offer: the noise funnel and the
services to filter by. Each is one indexed query, so they stay fast on a large store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, exists, func, or_, select

from aiops.model import IncidentStatus, RootCause
from aiops.storage.rows import alerts_t, incidents_t, members_t, services_t, timeline_t

_RAISED = ("open", "acknowledged")


@dataclass(frozen=True, slots=True)
class Funnel:
    """Alerts in, incidents raised out (and how many are held back as pending)."""

    alerts: int
    incidents: int
    pending: int
    live: int

    @property
    def ratio(self) -> float | None:
        """Alerts per raised incident: how much noise the correlation took away.

        >>> Funnel(120, 4, 1, 2).ratio
        30.0
        """
        return self.alerts / self.incidents if self.incidents else None


def funnel(engine: Engine, since: float | None) -> Funnel:
    """Alerts that began, and incidents opened, at or after ``since`` (``None``: ever)."""
    c = incidents_t.c
    timeline = timeline_t.c
    alerts_q = select(func.count()).select_from(alerts_t)
    incidents_q = select(func.count()).select_from(incidents_t)
    if since is not None:
        alerts_q = alerts_q.where(alerts_t.c.starts_at >= since)
        incidents_q = incidents_q.where(c.opened_at >= since)
    was_raised = exists().where(timeline.incident_id == c.id, timeline.status.in_(_RAISED))
    raised_q = incidents_q.where(or_(c.status.in_(_RAISED), was_raised))
    pending_q = incidents_q.where(c.status == "pending")
    live_q = select(func.count()).select_from(incidents_t).where(c.status.in_(_RAISED))
    with engine.connect() as conn:
        return Funnel(
            alerts=int(conn.execute(alerts_q).scalar_one()),
            incidents=int(conn.execute(raised_q).scalar_one()),
            pending=int(conn.execute(pending_q).scalar_one()),
            live=int(conn.execute(live_q).scalar_one()),
        )


def services(engine: Engine, limit: int = 500) -> list[str]:
    """Services that incidents were about, for the filter's suggestions."""
    query = (select(services_t.c.service).distinct().order_by(services_t.c.service)
             .limit(limit))
    with engine.connect() as conn:
        return [str(s) for s in conn.execute(query).scalars()]


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """What a list shows of an incident, read from its columns: the stored document (with
    every member alert) is never parsed for a list, so a 10,000-alert incident costs a
    list row no more than a small one."""

    id: str
    status: IncidentStatus
    title: str
    severity: str
    opened_at: float
    updated_at: float
    services: tuple[str, ...]
    root_causes: tuple[RootCause, ...]
    alert_count: int


def _where(query: Select[Any], status: str | None, severity: str | None,
           service: str | None, since: float | None) -> Select[Any]:
    c = incidents_t.c
    if status:
        query = query.where(c.status == status)
    if severity:
        query = query.where(c.severity == severity)
    if since is not None:
        query = query.where(c.opened_at >= since)
    if service:
        query = query.where(exists().where(services_t.c.incident_id == c.id,
                                           services_t.c.service == service))
    return query


def incident_rows(engine: Engine, *, status: str | None = None, severity: str | None = None,
                  service: str | None = None, since: float | None = None, limit: int = 50,
                  offset: int = 0, statuses: tuple[str, ...] = ()) -> list[IncidentRow]:
    """Incidents newest first, as the list and the graph overlay show them."""
    c = incidents_t.c
    alerts = (select(func.count()).select_from(members_t)
              .where(members_t.c.incident_id == c.id).scalar_subquery())
    columns: Select[Any] = select(c.id, c.status, c.title, c.severity, c.opened_at,
                                  c.updated_at, c.services, c.root_causes,
                                  alerts.label("alert_count"))
    query = _where(columns, status, severity, service, since)
    if statuses:
        query = query.where(c.status.in_(statuses))
    query = query.order_by(c.opened_at.desc(), c.id.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [IncidentRow(r.id, IncidentStatus(r.status), r.title, r.severity, r.opened_at,
                            r.updated_at, tuple(r.services or ()),
                            tuple(RootCause(rc["service"], float(rc["score"]),
                                            tuple(rc.get("evidence") or ()))
                                  for rc in (r.root_causes or ())[:3]),
                            int(r.alert_count))
                for r in conn.execute(query)]


def count_incidents(engine: Engine, *, status: str | None, severity: str | None,
                    service: str | None, since: float | None) -> int:
    """How many incidents the list's filters match (for its pager)."""
    counted: Select[Any] = select(func.count()).select_from(incidents_t)
    query = _where(counted, status, severity, service, since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
