"""The relational schema (SQLAlchemy 2.0 declarative models); migrations must match it.

Times are float epoch seconds (``Double``), exactly as the domain model holds them, so no
timezone can creep in and SQLite and PostgreSQL store the same values.

An incident is kept as its JSON document (``incident_to_dict``) without its member alerts and
timeline, and as columns and child rows (membership with each member's state, services,
timeline): a read puts the document and the rows back together, so a read is exactly what
was written, and a new version of a 20,000-alert incident writes only what changed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Deterministic constraint names, so migrations can refer to (and later drop) them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AlertRecord(Base):
    """The latest known state of one alert, by Alertmanager fingerprint."""

    __tablename__ = "alerts"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    alertname: Mapped[str] = mapped_column(String(255))
    service: Mapped[str] = mapped_column(String(255), index=True)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON)
    starts_at: Mapped[float] = mapped_column(Double)
    ends_at: Mapped[float | None] = mapped_column(Double)
    generator_url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    last_seen: Mapped[float] = mapped_column(Double, index=True)


class IncidentRecord(Base):
    """One incident at its newest stored ``version``."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[float] = mapped_column(Double, index=True)
    updated_at: Mapped[float] = mapped_column(Double)
    resolved_at: Mapped[float | None] = mapped_column(Double, index=True)
    services: Mapped[list[str]] = mapped_column(JSON)
    root_causes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class IncidentAlertRecord(Base):
    """Membership: which alert fingerprints belong to which incident, with the state of the
    alert's episode in it (``seq`` is the order it joined in). A stored incident's member
    alerts are these rows with the labels and annotations of their ``alerts`` row, so a new
    version writes only the members that joined or changed (rows of incidents stored before
    these columns existed hold nulls: their documents still list the alerts)."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    seq: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[float | None] = mapped_column(Double)
    ends_at: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str | None] = mapped_column(String(16))


class IncidentServiceRecord(Base):
    """Affected services of an incident, one row each, so a service filter can use an index."""

    __tablename__ = "incident_services"

    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class TimelineRecord(Base):
    """One entry of an incident's timeline; ``seq`` keeps the order the correlator gave."""

    __tablename__ = "incident_timeline"

    incident_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[float] = mapped_column(Double)
    event: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text)


class ActionRecord(Base):
    """A remediation decision. No foreign key to incidents: the action stage may record an
    action before the store stage has written the incident it reacts to."""

    __tablename__ = "remediation_actions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    runbook: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    ts: Mapped[float] = mapped_column(Double, index=True)


class OutboxRecord(Base):
    """A message to deliver to one destination, written in the same transaction as the state
    it announces. ``(destination, dedup_key)`` is unique, so a redelivered input that produces
    the same notification again inserts nothing."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("destination", "dedup_key"),
        Index("ix_outbox_due", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(255))
    dedup_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Double)
    sent_at: Mapped[float | None] = mapped_column(Double)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    next_attempt_at: Mapped[float] = mapped_column(Double)


metadata = Base.metadata
