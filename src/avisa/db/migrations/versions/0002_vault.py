"""vault tables

Revision ID: 0002_vault
Revises: 0001_instance
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import avisa.db.types

revision: str = "0002_vault"
down_revision: str | None = "0001_instance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vault_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", avisa.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_secrets")),
        sa.UniqueConstraint("name", name=op.f("uq_vault_secrets_name")),
    )
    op.create_table(
        "vault_secret_versions",
        sa.Column("secret_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["secret_id"],
            ["vault_secrets.id"],
            name=op.f("fk_vault_secret_versions_secret_id_vault_secrets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("secret_id", "version", name=op.f("pk_vault_secret_versions")),
    )
    op.create_table(
        "vault_keys",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("created_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("retired_at", avisa.db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_vault_keys")),
    )
    op.create_table(
        "vault_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("secret_name", sa.String(length=128), nullable=True),
        sa.Column("secret_id", sa.Uuid(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(length=200), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_audit")),
    )
    op.create_index(op.f("ix_vault_audit_at"), "vault_audit", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_vault_audit_at"), table_name="vault_audit")
    op.drop_table("vault_audit")
    op.drop_table("vault_keys")
    op.drop_table("vault_secret_versions")
    op.drop_table("vault_secrets")
