"""cron_execution_logs

Revision ID: 0005_execution_logs
Revises: 0004_appointments
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import avisa.db.types

revision: str = "0005_execution_logs"
down_revision: str | None = "0004_appointments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cron_execution_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("function_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('success', 'failed')", name=op.f("ck_cron_execution_logs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cron_execution_logs")),
    )
    op.create_index(
        op.f("ix_cron_execution_logs_created_at"), "cron_execution_logs", ["created_at"]
    )
    op.create_index(op.f("ix_cron_execution_logs_job_name"), "cron_execution_logs", ["job_name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_cron_execution_logs_job_name"), table_name="cron_execution_logs")
    op.drop_index(op.f("ix_cron_execution_logs_created_at"), table_name="cron_execution_logs")
    op.drop_table("cron_execution_logs")
