"""cron tables

Revision ID: 0003_cron
Revises: 0002_vault
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import avisa.db.types

revision: str = "0003_cron"
down_revision: str | None = "0002_vault"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cron_job",
        sa.Column("jobid", sa.Integer(), nullable=False),
        sa.Column("jobname", sa.String(length=200), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column(
            "command",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("overlap", sa.String(length=8), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "overlap IN ('skip', 'queue', 'allow')", name=op.f("ck_cron_job_overlap")
        ),
        sa.CheckConstraint("timeout_seconds > 0", name=op.f("ck_cron_job_timeout_positive")),
        sa.PrimaryKeyConstraint("jobid", name=op.f("pk_cron_job")),
        sa.UniqueConstraint("jobname", name=op.f("uq_cron_job_jobname")),
    )
    op.create_index(op.f("ix_cron_job_next_run_at"), "cron_job", ["next_run_at"], unique=False)
    op.create_table(
        "cron_job_run_details",
        sa.Column("runid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("jobid", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("return_message", sa.Text(), nullable=True),
        sa.Column("start_time", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("end_time", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('starting', 'running', 'succeeded', 'failed', 'skipped')",
            name=op.f("ck_cron_job_run_details_status"),
        ),
        sa.ForeignKeyConstraint(
            ["jobid"],
            ["cron_job.jobid"],
            name=op.f("fk_cron_job_run_details_jobid_cron_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("runid", name=op.f("pk_cron_job_run_details")),
        sa.UniqueConstraint(
            "jobid", "scheduled_for", name=op.f("uq_cron_job_run_details_jobid_scheduled_for")
        ),
    )
    op.create_index(
        op.f("ix_cron_job_run_details_scheduled_for"),
        "cron_job_run_details",
        ["scheduled_for"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cron_job_run_details_status"), "cron_job_run_details", ["status"], unique=False
    )
    op.create_table(
        "cron_worker",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_cron_worker")),
    )
    op.create_index(
        op.f("ix_cron_worker_heartbeat_at"), "cron_worker", ["heartbeat_at"], unique=False
    )
    cron_state = op.create_table(
        "cron_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("jobs_version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_cron_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cron_state")),
    )
    op.bulk_insert(cron_state, [{"id": 1, "jobs_version": 0}])


def downgrade() -> None:
    op.drop_table("cron_state")
    op.drop_index(op.f("ix_cron_worker_heartbeat_at"), table_name="cron_worker")
    op.drop_table("cron_worker")
    op.drop_index(op.f("ix_cron_job_run_details_status"), table_name="cron_job_run_details")
    op.drop_index(op.f("ix_cron_job_run_details_scheduled_for"), table_name="cron_job_run_details")
    op.drop_table("cron_job_run_details")
    op.drop_index(op.f("ix_cron_job_next_run_at"), table_name="cron_job")
    op.drop_table("cron_job")
