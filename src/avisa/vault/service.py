"""The vault service: the one object the CLI, the HTTP API and the scheduler use for secrets.

Values are encrypted in Python before any SQL is sent, so no plaintext reaches the database,
its WAL or a dump. Every operation is audited (actor, action, secret, outcome; never the
value). Errors are `AvisaError`s with one clear line: `NotFoundError`, `ConflictError`,
`InvalidSecretError`, `VaultSealedError`, `SecretCorruptError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from avisa.clock import Clock
from avisa.db.engine import is_sqlite
from avisa.db.tables.vault import vault_audit, vault_keys, vault_secret_versions, vault_secrets
from avisa.errors import AvisaError, ConflictError, NotFoundError, VaultSealedError
from avisa.vault import crypto
from avisa.vault.keystore import KeystoreCache, KeyVersionMissingError
from avisa.vault.model import (
    KEEP_VERSIONS,
    Actor,
    SecretMetadata,
    check_name,
    check_value,
    parse_ref,
)
from avisa.vault.rotation import RotationReport, rotate_root_key

log = structlog.get_logger(__name__)


class SecretCorruptError(AvisaError):
    """A stored secret fails authentication: its bytes were altered or moved (HTTP 500)."""

    http_status = 500


class Vault:
    """Encrypted secrets with versions, check-and-set, soft delete and an audit trail."""

    def __init__(
        self, engine: Engine, keystore: KeystoreCache, clock: Clock, actor: Actor = "system"
    ) -> None:
        self.engine = engine
        self.keystore = keystore
        self.clock = clock
        self.actor: Actor = actor

    def __repr__(self) -> str:
        return f"Vault(actor={self.actor!r}, {self.keystore.source.describe()})"

    def with_actor(self, actor: Actor) -> Vault:
        """The same vault, recording `actor` in the audit trail."""
        return Vault(self.engine, self.keystore, self.clock, actor)

    # -- reading ---------------------------------------------------------------------------

    def get_secret(self, name_or_id: str, version: int | None = None) -> str:
        """The value of a secret (its current version unless `version` is given).

        Raises NotFoundError (unknown, deleted, or version not kept), VaultSealedError,
        SecretCorruptError.
        """
        return self._read(name_or_id, version, audit=True)

    def read_internal(self, name: str) -> str:
        """Read a value for avisa's own use (token checks), without an audit row per read."""
        return self._read(name, None, audit=False)

    def _read(self, name_or_id: str, version: int | None, *, audit: bool) -> str:
        try:
            return self._read_once(name_or_id, version, audit=audit)
        except KeyVersionMissingError:
            # A rotation may have rewrapped the row and retired its key between our read of
            # the row and its decryption: the row read again is wrapped by a key we hold.
            return self._read_once(name_or_id, version, audit=audit)

    def _read_once(self, name_or_id: str, version: int | None, *, audit: bool) -> str:
        with self._audited("read", name_or_id, enabled=audit) as note:
            with self.engine.connect() as conn:
                row = self._find(conn, name_or_id)
                note["id"] = row.id
                note["name"] = row.name
                if row.deleted_at is not None:
                    raise NotFoundError(
                        f"secret {row.name!r} is deleted",
                        fix=f"restore it with `avisa vault restore {row.name}`",
                    )
                stored = (
                    row
                    if version is None or version == row.version
                    else _archived(conn, row, version)
                )
            return self._decrypt(row.id, row.name, version or row.version, stored)

    def _decrypt(self, secret_id: UUID, name: str, version: int, stored: Row[Any]) -> str:
        envelope = crypto.Envelope(stored.ciphertext, stored.wrapped_key, stored.key_version)
        keyring = self.keystore.keyring(need_version=envelope.key_version)
        try:
            plain = crypto.unseal(envelope, keyring.keys[envelope.key_version], secret_id, version)
        except crypto.DecryptionError:
            raise SecretCorruptError(
                f"secret {name!r} version {version} does not decrypt: its stored bytes were "
                "altered or copied from another secret",
                fix="set a new value with `avisa vault update`",
            ) from None
        return plain.decode("utf-8")

    def describe_secret(self, name_or_id: str) -> SecretMetadata:
        """Metadata of one secret (deleted ones too); raises NotFoundError."""
        with self.engine.connect() as conn:
            return _metadata(self._find(conn, name_or_id))

    def list_secrets(self, include_deleted: bool = False) -> list[SecretMetadata]:
        """Metadata of every secret, by name; never values."""
        query = sa.select(vault_secrets).order_by(vault_secrets.c.name)
        if not include_deleted:
            query = query.where(vault_secrets.c.deleted_at.is_(None))
        with self.engine.connect() as conn:
            return [_metadata(row) for row in conn.execute(query)]

    # -- writing ---------------------------------------------------------------------------

    def create_secret(self, value: str, name: str, description: str = "") -> UUID:
        """Store a new secret; raises ConflictError if the name is taken (even if deleted)."""
        check_name(name)
        data = check_value(value)
        with self._audited("create", name) as note:
            try:
                with self.engine.begin() as conn:
                    existing = self._find(conn, name, missing_ok=True)
                    if existing is not None:
                        raise _name_taken(existing)
                    key_version, key = self._active_key(conn)
                    secret_id = uuid.uuid4()
                    note["id"] = secret_id
                    env = crypto.seal(data, key, key_version, secret_id, 1)
                    now = self.clock.now()
                    conn.execute(
                        sa.insert(vault_secrets).values(
                            id=secret_id,
                            name=name,
                            description=description,
                            version=1,
                            key_version=env.key_version,
                            ciphertext=env.ciphertext,
                            wrapped_key=env.wrapped_key,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    self._audit(conn, "create", name, secret_id, True)
            except IntegrityError:
                raise ConflictError(f"secret {name!r} already exists") from None
            return secret_id

    def update_secret(
        self,
        name_or_id: str,
        value: str | None = None,
        new_name: str | None = None,
        description: str | None = None,
        expected_version: int | None = None,
    ) -> SecretMetadata:
        """Change a secret's value (a new version), name or description.

        With `expected_version`, the update happens only if the secret is at that version
        (check-and-set): of two concurrent updates expecting the same version, exactly one
        succeeds and the other raises ConflictError. Raises NotFoundError, InvalidSecretError.
        """
        if value is None and new_name is None and description is None:
            raise AvisaError("nothing to update: give a value, a new name or a description")
        data = check_value(value) if value is not None else None
        if new_name is not None:
            check_name(new_name)
        with self._audited("update", name_or_id) as note:
            try:
                with self.engine.begin() as conn:
                    row = self._find(conn, name_or_id, lock=True)
                    note["id"], note["name"] = row.id, row.name
                    if row.deleted_at is not None:
                        raise ConflictError(
                            f"secret {row.name!r} is deleted",
                            fix=f"restore it first with `avisa vault restore {row.name}`",
                        )
                    if expected_version is not None and row.version != expected_version:
                        raise ConflictError(
                            f"secret {row.name!r} is at version {row.version}, not "
                            f"{expected_version}: it changed since you read it"
                        )
                    changes: dict[str, Any] = {"updated_at": self.clock.now()}
                    if new_name is not None:
                        changes["name"] = new_name
                    if description is not None:
                        changes["description"] = description
                    if data is not None:
                        changes.update(self._new_version(conn, row, data))
                    done = conn.execute(
                        sa.update(vault_secrets)
                        .where(vault_secrets.c.id == row.id, vault_secrets.c.version == row.version)
                        .values(**changes)
                    )
                    if done.rowcount != 1:
                        raise ConflictError(f"secret {row.name!r} changed concurrently; retry")
                    self._audit(conn, "update", new_name or row.name, row.id, True)
                    updated = self._find(conn, str(row.id))
            except IntegrityError:
                raise ConflictError(f"secret {new_name!r} already exists") from None
            return _metadata(updated)

    def _new_version(self, conn: Connection, row: Row[Any], data: bytes) -> dict[str, Any]:
        """Archive the current version and encrypt `data` as the next one."""
        conn.execute(
            sa.insert(vault_secret_versions).values(
                secret_id=row.id,
                version=row.version,
                key_version=row.key_version,
                ciphertext=row.ciphertext,
                wrapped_key=row.wrapped_key,
                created_at=row.updated_at,
            )
        )
        conn.execute(
            sa.delete(vault_secret_versions).where(
                vault_secret_versions.c.secret_id == row.id,
                vault_secret_versions.c.version <= row.version + 1 - KEEP_VERSIONS,
            )
        )
        key_version, key = self._active_key(conn)
        env = crypto.seal(data, key, key_version, row.id, row.version + 1)
        return {
            "version": row.version + 1,
            "key_version": env.key_version,
            "ciphertext": env.ciphertext,
            "wrapped_key": env.wrapped_key,
        }

    def delete_secret(self, name_or_id: str) -> SecretMetadata:
        """Soft-delete: the secret stops resolving but can be restored."""
        return self._set_deleted(name_or_id, deleted=True)

    def restore_secret(self, name_or_id: str) -> SecretMetadata:
        """Undo a soft delete."""
        return self._set_deleted(name_or_id, deleted=False)

    def _set_deleted(self, name_or_id: str, *, deleted: bool) -> SecretMetadata:
        action = "delete" if deleted else "restore"
        with self._audited(action, name_or_id) as note, self.engine.begin() as conn:
            row = self._find(conn, name_or_id, lock=True)
            note["id"], note["name"] = row.id, row.name
            if (row.deleted_at is not None) == deleted:
                state = "deleted" if deleted else "not deleted"
                raise ConflictError(f"secret {row.name!r} is already {state}")
            now = self.clock.now()
            conn.execute(
                sa.update(vault_secrets)
                .where(vault_secrets.c.id == row.id)
                .values(deleted_at=now if deleted else None, updated_at=now)
            )
            self._audit(conn, action, row.name, row.id, True)
            return _metadata(self._find(conn, str(row.id)))

    def rotate_root_key(self) -> RotationReport:
        """Add a root key version, rewrap every data key with it, retire the old ones.

        See `avisa.vault.rotation`. Raises VaultSealedError when sealed or when the key
        comes from AVISA_ROOT_KEY.
        """
        return rotate_root_key(self)

    def destroy_secret(self, name_or_id: str) -> None:
        """Irreversibly remove a secret and all its versions."""
        with self._audited("destroy", name_or_id) as note, self.engine.begin() as conn:
            row = self._find(conn, name_or_id, lock=True)
            note["id"], note["name"] = row.id, row.name
            conn.execute(
                sa.delete(vault_secret_versions).where(vault_secret_versions.c.secret_id == row.id)
            )
            conn.execute(sa.delete(vault_secrets).where(vault_secrets.c.id == row.id))
            self._audit(conn, "destroy", row.name, row.id, True)

    # -- helpers ---------------------------------------------------------------------------

    def _find(
        self, conn: Connection, name_or_id: str, *, lock: bool = False, missing_ok: bool = False
    ) -> Row[Any]:
        ref = parse_ref(name_or_id)
        column = vault_secrets.c.id if isinstance(ref, UUID) else vault_secrets.c.name
        query = sa.select(vault_secrets).where(column == ref)
        if lock and not is_sqlite(conn):
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None and not missing_ok:
            raise NotFoundError(f"no secret named {name_or_id!r}")
        return row  # type: ignore[return-value]

    def _active_key(self, conn: Connection) -> tuple[int, bytes]:
        """The newest non-retired root key version, locked against retirement until commit."""
        query = (
            sa.select(vault_keys.c.version)
            .where(vault_keys.c.retired_at.is_(None))
            .order_by(vault_keys.c.version.desc())
            .limit(1)
        )
        if not is_sqlite(conn):
            # A rotation retiring this version waits for this transaction to commit, then
            # rewraps what it wrote; see rotation.py.
            query = query.with_for_update(read=True)
        version = conn.execute(query).scalar()
        if version is None:
            raise VaultSealedError(
                "vault is not initialised: no root key is registered", fix="run `avisa init`"
            )
        return version, self.keystore.keyring(need_version=version, conn=conn).keys[version]

    def _audit(
        self,
        conn: Connection,
        action: str,
        name: str | None,
        secret_id: UUID | None,
        success: bool,
        detail: str = "",
    ) -> None:
        conn.execute(
            sa.insert(vault_audit).values(
                at=self.clock.now(),
                actor=self.actor,
                action=action,
                secret_name=name,
                secret_id=secret_id,
                success=success,
                detail=detail[:200],
            )
        )

    @contextmanager
    def _audited(
        self, action: str, name_or_id: str, *, enabled: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Record a failed operation in its own transaction (the failed one rolled back).

        Successful writes audit inside their own transaction; successful reads audit here.
        """
        note: dict[str, Any] = {}
        try:
            yield note
        except Exception as exc:
            if enabled:
                self._audit_alone(action, note.get("name", name_or_id), note.get("id"), exc)
            raise
        if enabled and action == "read":
            with self.engine.begin() as conn:
                self._audit(conn, action, note.get("name"), note.get("id"), True)

    def _audit_alone(self, action: str, name: str, secret_id: UUID | None, exc: Exception) -> None:
        try:
            with self.engine.begin() as conn:
                self._audit(conn, action, name[:128], secret_id, False, type(exc).__name__)
        except Exception as audit_exc:  # the original error matters more than its audit row
            log.warning("vault_audit_failed", error_class=type(audit_exc).__name__)


def _archived(conn: Connection, row: Row[Any], version: int) -> Row[Any]:
    """An earlier version of a secret; raises NotFoundError if it is not kept."""
    stored = conn.execute(
        sa.select(vault_secret_versions).where(
            vault_secret_versions.c.secret_id == row.id,
            vault_secret_versions.c.version == version,
        )
    ).first()
    if stored is None:
        raise NotFoundError(
            f"secret {row.name!r} has no version {version} (the last {KEEP_VERSIONS} are "
            f"kept; current is {row.version})"
        )
    return stored


def _metadata(row: Row[Any]) -> SecretMetadata:
    return SecretMetadata(
        id=row.id,
        name=row.name,
        description=row.description,
        version=row.version,
        key_version=row.key_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
    )


def _name_taken(row: Row[Any]) -> ConflictError:
    if row.deleted_at is not None:
        return ConflictError(
            f"secret {row.name!r} exists but is deleted",
            fix=f"restore it (`avisa vault restore {row.name}`) or destroy it first",
        )
    return ConflictError(
        f"secret {row.name!r} already exists", fix="use `avisa vault update` to change it"
    )
