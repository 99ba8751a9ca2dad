"""Initial schema: alerts, incidents (+ membership, services, timeline), actions, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("alertname", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=True),
        sa.Column("generator_url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_last_seen"), "alerts", ["last_seen"])
    op.create_index(op.f("ix_alerts_service"), "alerts", ["service"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("root_causes", sa.JSON(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_index(op.f("ix_incidents_opened_at"), "incidents", ["opened_at"])
    op.create_index(op.f("ix_incidents_severity"), "incidents", ["severity"])
    op.create_index(op.f("ix_incidents_status"), "incidents", ["status"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint(
            "destination", "dedup_key", name=op.f("uq_outbox_destination_dedup_key")
        ),
    )
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "next_attempt_at"])

    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("runbook", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_actions")),
    )
    op.create_index(
        op.f("ix_remediation_actions_incident_id"), "remediation_actions", ["incident_id"]
    )
    op.create_index(op.f("ix_remediation_actions_ts"), "remediation_actions", ["ts"])

    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_alerts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "fingerprint", name=op.f("pk_incident_alerts")),
    )
    op.create_index(op.f("ix_incident_alerts_fingerprint"), "incident_alerts", ["fingerprint"])

    op.create_table(
        "incident_services",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_services_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "service", name=op.f("pk_incident_services")),
    )
    op.create_index(op.f("ix_incident_services_service"), "incident_services", ["service"])

    op.create_table(
        "incident_timeline",
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_timeline_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "seq", name=op.f("pk_incident_timeline")),
    )


def downgrade() -> None:
    op.drop_table("incident_timeline")
    op.drop_index(op.f("ix_incident_services_service"), table_name="incident_services")
    op.drop_table("incident_services")
    op.drop_index(op.f("ix_incident_alerts_fingerprint"), table_name="incident_alerts")
    op.drop_table("incident_alerts")
    op.drop_index(op.f("ix_remediation_actions_ts"), table_name="remediation_actions")
    op.drop_index(op.f("ix_remediation_actions_incident_id"), table_name="remediation_actions")
    op.drop_table("remediation_actions")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_incidents_status"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_severity"), table_name="incidents")
    op.drop_index(op.f("ix_incidents_opened_at"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_alerts_service"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_last_seen"), table_name="alerts")
    op.drop_table("alerts")
