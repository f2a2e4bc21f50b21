"""Vault tables: secrets (never plaintext), their history, root key versions, the audit trail."""

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import UTCDateTime

#: The current version of each secret. `ciphertext` and `wrapped_key` are
#: `nonce || ciphertext || tag` (AES-256-GCM); `key_version` names the root key wrapping it.
vault_secrets = sa.Table(
    "vault_secrets",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("key_version", sa.Integer, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=True),
)

#: Earlier versions of each secret (the last few are kept), encrypted like the current one.
vault_secret_versions = sa.Table(
    "vault_secret_versions",
    metadata,
    sa.Column(
        "secret_id",
        sa.Uuid,
        sa.ForeignKey("vault_secrets.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("key_version", sa.Integer, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: Root key versions known to this database. The newest non-retired one wraps new data
#: keys; `fingerprint` (an HMAC of the key, not the key) detects a wrong root key.
vault_keys = sa.Table(
    "vault_keys",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("fingerprint", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("retired_at", UTCDateTime, nullable=True),
)

#: Who did what to which secret, when, and whether it worked. Never the value.
vault_audit = sa.Table(
    "vault_audit",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(32), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("secret_name", sa.String(128), nullable=True),
    sa.Column("secret_id", sa.Uuid, nullable=True),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("detail", sa.String(200), nullable=False, server_default=""),
)
