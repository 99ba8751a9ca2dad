"""Member state on incident membership rows, so incident versions are written incrementally.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incident_alerts") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("starts_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("ends_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incident_alerts") as batch:
        batch.drop_column("status")
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
        batch.drop_column("seq")
