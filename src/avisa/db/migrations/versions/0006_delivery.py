"""delivery_outbox

Revision ID: 0006_delivery
Revises: 0005_execution_logs
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import avisa.db.types

revision: str = "0006_delivery"
down_revision: str | None = "0005_execution_logs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_delivery_outbox_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_outbox")),
    )
    op.create_index(
        op.f("ix_delivery_outbox_notification_id"), "delivery_outbox", ["notification_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_outbox_notification_id"), table_name="delivery_outbox")
    op.drop_table("delivery_outbox")
