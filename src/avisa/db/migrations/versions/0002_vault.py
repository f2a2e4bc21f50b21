"""vault tables

Revision ID: 0002_vault
Revises: 0001_instance
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0002_vault"
down_revision: str | None = "0001_instance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
