"""Remediation: audit trail, approvals, learned posteriors, runtime switches.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remediation_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("runbook", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_audit")),
    )
    op.create_index(op.f("ix_remediation_audit_ts"), "remediation_audit", ["ts"])
    op.create_index("ix_remediation_audit_incident_ts", "remediation_audit",
                    ["incident_id", "ts"])

    op.create_table(
        "remediation_approvals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=64), nullable=False),
        sa.Column("runbook", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("signature", sa.String(length=512), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.Double(), nullable=False),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_approvals")),
    )
    op.create_index(op.f("ix_remediation_approvals_incident_id"), "remediation_approvals",
                    ["incident_id"])
    op.create_index(op.f("ix_remediation_approvals_status"), "remediation_approvals",
                    ["status"])

    op.create_table(
        "remediation_posteriors",
        sa.Column("signature", sa.String(length=512), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("alpha", sa.Double(), nullable=False),
        sa.Column("beta", sa.Double(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("signature", "action", name=op.f("pk_remediation_posteriors")),
    )


    op.create_table(
        "remediation_switches",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_remediation_switches")),
    )


def downgrade() -> None:
    op.drop_table("remediation_switches")
    op.drop_table("remediation_posteriors")
    op.drop_index(op.f("ix_remediation_approvals_status"), table_name="remediation_approvals")
    op.drop_index(op.f("ix_remediation_approvals_incident_id"),
                  table_name="remediation_approvals")
    op.drop_table("remediation_approvals")
    op.drop_index("ix_remediation_audit_incident_ts", table_name="remediation_audit")
    op.drop_index(op.f("ix_remediation_audit_ts"), table_name="remediation_audit")
    op.drop_table("remediation_audit")
