"""clients, appointments and notifications

Revision ID: 0004_appointments
Revises: 0003_cron
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0004_appointments"
down_revision: str | None = "0003_cron"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
