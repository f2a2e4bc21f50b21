"""alert_state

Revision ID: 0007_alerts
Revises: 0006_delivery
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import avisa.db.types

revision: str = "0007_alerts"
down_revision: str | None = "0006_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("since", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("failure_marker", sa.String(length=64), nullable=True),
        sa.Column("alerted_marker", sa.String(length=64), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("last_alert_at", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_alert_kind", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("state IN ('ok', 'failing')", name=op.f("ck_alert_state_state")),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_alert_state")),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
