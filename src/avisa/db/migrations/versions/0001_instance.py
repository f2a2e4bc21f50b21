"""avisa_instance: one row describing the installation

Revision ID: 0001_instance
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import avisa.db.types

revision: str = "0001_instance"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "avisa_instance",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("installed_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("installed_version", sa.String(length=32), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_avisa_instance_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_avisa_instance")),
    )


def downgrade() -> None:
    op.drop_table("avisa_instance")
