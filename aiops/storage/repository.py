"""The store every stage and the API share: incidents, alerts, actions and the outbox.

Writes that belong together happen in one transaction, so that a stage can commit its Kafka
offset once :meth:`Store.save_incident` returns and a crash at any point leaves either
everything or nothing. Incident writes follow a version rule (a stored incident is replaced
only by a higher ``version``), which makes redelivered and out-of-order incident messages
harmless.

The methods are synchronous and short; asyncio callers run them in a thread
(``asyncio.to_thread``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Select, exists, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from aiops.model import (
    Alert,
    AlertStatus,
    Incident,
    IncidentStatus,
    NotFoundError,
    RemediationAction,
)
from aiops.storage import outbox as ob
from aiops.storage.dml import fit, upsert
from aiops.storage.errors import StorageUnavailableError
from aiops.storage.incident_rows import (
    IncidentDelta,
    read_incidents,
    write_incident_children,
    write_incident_delta,
    write_incident_head,
)
from aiops.storage.outbox import OutboxMessage, OutboxRow
from aiops.storage.rows import (
    action_from_row,
    action_values,
    actions_t,
    alert_from_row,
    alerts_t,
    incidents_t,
    members_t,
    services_t,
    write_alerts,
)

__all__ = ["IncidentDelta", "OutboxMessage", "OutboxRow", "Store"]

#: What a correlator holds as live: pending (held back until confirmed) too, so a restart
#: neither loses a pending incident nor leaves it pending in the store for ever.
_ACTIVE = (IncidentStatus.PENDING.value, IncidentStatus.OPEN.value,
           IncidentStatus.ACKNOWLEDGED.value)


class Store:
    """Repository over one SQLAlchemy :class:`~sqlalchemy.Engine` (SQLite or PostgreSQL).

    ``clock`` gives wall-clock seconds for bookkeeping columns (an alert's ``last_seen``, an
    outbox row's ``created_at``); tests pass a fixed one.

    >>> from aiops.storage import create_engine, metadata
    >>> engine = create_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> store = Store(engine)
    >>> store.enqueue([OutboxMessage("log", "inc-1:open", b"{}")] * 2)
    1
    """

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> Engine:
        return self._engine

    def ping(self) -> None:
        """Raise :class:`StorageUnavailableError` unless the database answers a query."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageUnavailableError(
                str(exc.__cause__ or exc), backend=self._engine.dialect.name
            ) from exc

    # ------------------------------------------------------------ incidents

    def save_incident(self, incident: Incident, outbox: Sequence[OutboxMessage] = (),
                      delta: IncidentDelta | None = None) -> bool:
        """Store ``incident`` with its membership, timeline, alerts and ``outbox`` messages.

        Without ``delta`` the incident is written whole. With one, only what it says changed
        since the stored version (the correlate stage's way: a version of a 20,000-alert
        incident then costs what its new members cost, not what the incident holds); the
        incident's own ``alerts`` and ``timeline`` are then not read, and may be partial.

        Returns False, and writes nothing at all, when the stored version is the same or newer
        (a redelivery or an out-of-date message): the outbox messages belong to the state
        being written, and that state was already announced when it was first stored.
        """
        now = self._clock()
        with self._engine.begin() as conn:
            if not write_incident_head(conn, incident):
                return False
            if delta is None:
                write_incident_children(conn, incident)
                write_alerts(conn, incident.alerts, now)
            else:
                write_alerts(conn, (alert for _, alert in delta.alerts), now)
                write_incident_delta(conn, incident, delta)
            ob.insert_messages(conn, outbox, now)
        return True

    def get_incident(self, incident_id: str) -> Incident:
        query = select(incidents_t.c.document).where(incidents_t.c.id == incident_id)
        with self._engine.connect() as conn:
            doc = conn.execute(query).scalar_one_or_none()
            if doc is None:
                raise NotFoundError("incident", incident_id)
            return read_incidents(conn, [doc])[0]

    def list_incidents(
        self,
        *,
        status: IncidentStatus | str | None = None,
        service: str | None = None,
        severity: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Incidents newest first (by ``opened_at``); ``since <= opened_at < until``."""
        c = incidents_t.c
        query = select(c.document).order_by(c.opened_at.desc(), c.id.desc())
        if status is not None:
            query = query.where(c.status == str(status))
        if severity is not None:
            query = query.where(c.severity == severity)
        if since is not None:
            query = query.where(c.opened_at >= since)
        if until is not None:
            query = query.where(c.opened_at < until)
        if service is not None:
            query = query.where(
                exists().where(services_t.c.incident_id == c.id, services_t.c.service == service)
            )
        return self._incidents(query.limit(limit).offset(offset))

    def open_incidents(self) -> list[Incident]:
        """Pending, open and acknowledged incidents, oldest first: what a correlator reloads
        on start."""
        c = incidents_t.c
        query = select(c.document).where(c.status.in_(_ACTIVE)).order_by(c.opened_at, c.id)
        return self._incidents(query)

    def latest_update(self) -> float | None:
        """The newest ``updated_at`` of any incident: where event time stood when the
        correlator last wrote, or None for an empty store."""
        with self._engine.connect() as conn:
            newest = conn.execute(select(func.max(incidents_t.c.updated_at))).scalar()
        return None if newest is None else float(newest)

    def recently_resolved(self, within: float) -> list[Incident]:
        """Incidents resolved within ``within`` seconds of event time before the newest
        change in the store, oldest resolution first: the ones a correlator may still
        reopen, reloaded on start with the open ones. Event time, not the wall clock,
        because everything downstream of the receivers runs in event time."""
        newest = self.latest_update()
        if newest is None:
            return []
        c = incidents_t.c
        query = (
            select(c.document)
            .where(c.status == IncidentStatus.RESOLVED.value, c.resolved_at >= newest - within)
            .order_by(c.resolved_at, c.id)
        )
        return self._incidents(query)

    def incident_for_alert(self, fingerprint: str) -> Incident | None:
        """The newest incident that the alert is a member of, or None."""
        c = incidents_t.c
        query = (
            select(c.document)
            .join(members_t, members_t.c.incident_id == c.id)
            .where(members_t.c.fingerprint == fingerprint)
            .order_by(c.opened_at.desc(), c.id.desc())
            .limit(1)
        )
        found = self._incidents(query)
        return found[0] if found else None

    def _incidents(self, query: Select[Any]) -> list[Incident]:
        with self._engine.connect() as conn:
            return read_incidents(conn, conn.execute(query).scalars().all())

    # ------------------------------------------------------------ alerts

    def upsert_alerts(self, alerts: Iterable[Alert]) -> None:
        """Store the latest state of each alert (see :func:`rows.write_alerts` for the rule)."""
        with self._engine.begin() as conn:
            write_alerts(conn, alerts, self._clock())

    def firing_alerts(self, at: float, limit: int = 10_000) -> list[Alert]:
        """Alerts whose latest stored state still fires at event time ``at`` (no end, or an
        end after it), oldest first: what a silence that ends early may have held back."""
        c = alerts_t.c
        query = (
            select(alerts_t)
            .where(c.status == "firing", (c.ends_at.is_(None)) | (c.ends_at > at))
            .order_by(c.starts_at, c.fingerprint)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [alert_from_row(row) for row in conn.execute(query)]

    def alerts_for(self, fingerprints: Sequence[str], *, resolved: bool = False) -> list[Alert]:
        """The stored state of these alerts (those known; with ``resolved``, only those
        stored resolved: asking after 20,000 firing alerts then loads none), in chunks of
        1,000."""
        found: list[Alert] = []
        with self._engine.connect() as conn:
            for i in range(0, len(fingerprints), 1000):
                chunk = list(fingerprints[i:i + 1000])
                query = select(alerts_t).where(alerts_t.c.fingerprint.in_(chunk))
                if resolved:
                    query = query.where(alerts_t.c.status == AlertStatus.RESOLVED.value)
                found.extend(alert_from_row(row) for row in conn.execute(query))
        return found

    def get_alert(self, fingerprint: str) -> Alert:
        query = select(alerts_t).where(alerts_t.c.fingerprint == fingerprint)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError("alert", fingerprint)
        return alert_from_row(row)

    # ------------------------------------------------------------ actions

    def save_action(self, action: RemediationAction) -> None:
        """Insert or replace the action with ``action.id``."""
        values = fit(actions_t, action_values(action))
        with self._engine.begin() as conn:
            ins = upsert(conn, actions_t).values(values)
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["id"],
                    set_={k: ins.excluded[k] for k in values if k != "id"},
                )
            )

    def list_actions(
        self, incident_id: str | None = None, limit: int = 100
    ) -> list[RemediationAction]:
        """Actions newest first, optionally of one incident."""
        c = actions_t.c
        query = select(actions_t).order_by(c.ts.desc(), c.id.desc()).limit(limit)
        if incident_id is not None:
            query = query.where(c.incident_id == incident_id)
        with self._engine.connect() as conn:
            return [action_from_row(row) for row in conn.execute(query)]

    # ------------------------------------------------------------ outbox

    def enqueue(self, messages: Iterable[OutboxMessage]) -> int:
        """Add messages in their own transaction; duplicates are ignored. Returns how many
        were new."""
        with self._engine.begin() as conn:
            return ob.insert_messages(conn, messages, self._clock())

    def pending(
        self, destination: str | None = None, *, now: float | None = None, limit: int = 100
    ) -> list[OutboxRow]:
        """Unsent messages due at ``now`` (default: the clock), oldest first."""
        due = self._clock() if now is None else now
        with self._engine.connect() as conn:
            return ob.select_pending(conn, destination, due, limit)

    def mark_sent(self, ids: Sequence[int], now: float | None = None) -> None:
        with self._engine.begin() as conn:
            ob.set_sent(conn, ids, self._clock() if now is None else now)

    def mark_failed(self, row_id: int, error: str, next_attempt_at: float) -> None:
        """Count a failed attempt and hold the message back until ``next_attempt_at``."""
        with self._engine.begin() as conn:
            ob.set_failed(conn, row_id, error, next_attempt_at)

    def purge_sent(self, before: float) -> int:
        """Delete messages sent before ``before``; returns how many.

        A purged message's ``(destination, dedup_key)`` can be enqueued again, so keep sent
        rows for longer than an input can be redelivered (the topic's retention).
        """
        with self._engine.begin() as conn:
            return ob.delete_sent(conn, before)
