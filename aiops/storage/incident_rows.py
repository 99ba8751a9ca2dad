"""An incident as rows: its head and document, its members and its timeline, written whole or
as a delta, and put back together on read.

A version of an incident used to be written whole: the document listing every member alert,
the membership and timeline rows deleted and inserted again, every member alert upserted.
For an incident that grows to 20,000 alerts that is O(members) memory and time per version,
O(members^2) over its life. Now the document holds neither the member alerts nor the
timeline (``ROWS_KEY`` says so); both live only in rows, each membership row with the state
of the member's episode, and a version written with an :class:`IncidentDelta` touches only
the members that joined, changed or left and the timeline entries that are new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select

from aiops.model import Alert, AlertStatus, Incident, IncidentStatus, TimelineEntry
from aiops.storage.dml import upsert
from aiops.storage.rows import alerts_t, incidents_t, members_t, services_t, timeline_t
from aiops.wire.shapes import incident_from_dict, incident_to_dict

#: document key of an incident whose member alerts and timeline are in rows, not in it
ROWS_KEY = "in_rows"
_IN_ROWS = ["alerts", "timeline"]
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class IncidentDelta:
    """What changed in an incident since the version stored before: the member alerts that
    joined or changed state (with their join order ``seq``, kept from the first write), the
    fingerprints that left it, and the new timeline entries with their positions.

    >>> IncidentDelta().empty
    True
    """

    alerts: Sequence[tuple[int, Alert]] = ()
    removed: Sequence[str] = ()
    timeline: Sequence[tuple[int, TimelineEntry]] = ()

    @property
    def empty(self) -> bool:
        return not (self.alerts or self.removed or self.timeline)


def write_incident_head(conn: Connection, incident: Incident) -> bool:
    """Insert the incident, or update it if ``incident.version`` is newer; True if written.
    The document leaves out the member alerts and the timeline (they are rows)."""
    doc = incident_to_dict(replace(incident, alerts=(), timeline=()))
    doc[ROWS_KEY] = _IN_ROWS
    values = {
        "id": incident.id,
        "version": incident.version,
        "status": incident.status.value,
        "title": incident.title,
        "severity": incident.severity[:16],
        "opened_at": incident.opened_at,
        "updated_at": incident.updated_at,
        "resolved_at": incident.resolved_at,
        "services": list(incident.services),
        "root_causes": doc["root_causes"],
        "document": doc,
    }
    ins = upsert(conn, incidents_t).values(values)
    stmt = ins.on_conflict_do_update(
        index_elements=["id"],
        set_={k: ins.excluded[k] for k in values if k != "id"},
        where=incidents_t.c.version < ins.excluded.version,
    ).returning(incidents_t.c.id)
    return conn.execute(stmt).first() is not None


def _member(incident_id: str, seq: int, alert: Alert) -> dict[str, Any]:
    return {"incident_id": incident_id, "fingerprint": alert.fingerprint, "seq": seq,
            "starts_at": alert.starts_at, "ends_at": alert.ends_at,
            "status": alert.status.value}


def _entry(incident_id: str, seq: int, t: TimelineEntry) -> dict[str, Any]:
    return {"incident_id": incident_id, "seq": seq, "ts": t.ts, "event": t.event[:64],
            "status": t.status.value, "actor": t.actor[:255], "note": t.note}


def _write_services(conn: Connection, incident: Incident) -> None:
    conn.execute(services_t.delete().where(services_t.c.incident_id == incident.id))
    services = sorted({s[:255] for s in incident.services})
    if services:
        conn.execute(services_t.insert(),
                     [{"incident_id": incident.id, "service": s} for s in services])


def write_incident_children(conn: Connection, incident: Incident) -> None:
    """Replace membership, services and timeline rows with the incident's current ones."""
    for table in (members_t, timeline_t):
        conn.execute(table.delete().where(table.c.incident_id == incident.id))
    newest: dict[str, tuple[int, Alert]] = {}
    for seq, alert in enumerate(incident.alerts):
        newest.setdefault(alert.fingerprint, (seq, alert))
    if newest:
        conn.execute(members_t.insert(), [_member(incident.id, seq, alert)
                                          for seq, alert in sorted(newest.values(),
                                                                   key=lambda p: p[0])])
    _write_services(conn, incident)
    if incident.timeline:
        conn.execute(timeline_t.insert(), [_entry(incident.id, seq, t)
                                           for seq, t in enumerate(incident.timeline)])


def write_incident_delta(conn: Connection, incident: Incident, delta: IncidentDelta) -> None:
    """Apply ``delta`` to the stored rows: members joined or changed are upserted (a member
    keeps the ``seq`` it joined with), members that left are deleted, new timeline entries
    are written at their positions; services, which are few, are written again."""
    if delta.removed:
        removed = sorted(set(delta.removed))
        for i in range(0, len(removed), _CHUNK):
            conn.execute(members_t.delete().where(
                members_t.c.incident_id == incident.id,
                members_t.c.fingerprint.in_(removed[i:i + _CHUNK])))
    if delta.alerts:
        latest = {alert.fingerprint: (seq, alert) for seq, alert in delta.alerts}
        rows = [_member(incident.id, seq, alert)
                for seq, alert in sorted(latest.values(), key=lambda p: p[1].fingerprint)]
        ins = upsert(conn, members_t)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["incident_id", "fingerprint"],
            set_={k: ins.excluded[k] for k in ("starts_at", "ends_at", "status")}), rows)
    if delta.timeline:
        ins = upsert(conn, timeline_t)
        conn.execute(ins.on_conflict_do_update(
            index_elements=["incident_id", "seq"],
            set_={k: ins.excluded[k] for k in ("ts", "event", "status", "actor", "note")}),
            [_entry(incident.id, seq, t) for seq, t in delta.timeline])
    _write_services(conn, incident)


def read_incidents(conn: Connection, docs: Sequence[Any]) -> list[Incident]:
    """Incidents from stored documents, their member alerts and timelines read from rows
    (documents written before those moved to rows are read as they are)."""
    incidents = [incident_from_dict(doc) for doc in docs]
    ids = [inc.id for inc, doc in zip(incidents, docs, strict=True)
           if isinstance(doc, dict) and doc.get(ROWS_KEY)]
    if not ids:
        return incidents
    alerts: dict[str, list[Alert]] = {i: [] for i in ids}
    timelines: dict[str, list[TimelineEntry]] = {i: [] for i in ids}
    m, a, t = members_t.c, alerts_t.c, timeline_t.c
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        query = (select(m.incident_id, m.fingerprint, m.starts_at, m.ends_at, m.status,
                        a.labels, a.annotations, a.generator_url, a.starts_at.label("a_starts"),
                        a.ends_at.label("a_ends"), a.status.label("a_status"))
                 .join(alerts_t, a.fingerprint == m.fingerprint)
                 .where(m.incident_id.in_(chunk))
                 .order_by(m.incident_id, m.seq, m.fingerprint))
        firing = AlertStatus.FIRING
        for (ident, fp, starts, ends, status, labels, notes, url, a_starts, a_ends,
             a_status) in conn.execute(query).tuples():
            if starts is None:  # a row written before member state was stored
                starts, ends, status = a_starts, a_ends, a_status
            alerts[ident].append(Alert(
                labels=dict(labels), annotations=dict(notes), starts_at=starts,
                ends_at=ends, generator_url=url,
                status=firing if status == "firing" else AlertStatus(status),
                fingerprint=fp))
        entries = (select(t.incident_id, t.ts, t.event, t.status, t.actor, t.note)
                   .where(t.incident_id.in_(chunk)).order_by(t.incident_id, t.seq))
        for ident, ts, event, status, actor, note in conn.execute(entries).tuples():
            timelines[ident].append(TimelineEntry(ts=ts, event=event,
                                                  status=IncidentStatus(status),
                                                  actor=actor, note=note))
    return [replace(inc, alerts=tuple(alerts[inc.id]), timeline=tuple(timelines[inc.id]))
            if inc.id in alerts else inc for inc in incidents]
