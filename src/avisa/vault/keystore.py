"""The process's view of the root keyring, validated against the database and kept fresh.

One `KeystoreCache` is shared by every `Vault` view of a process. It reloads the key file
when the file changes (another process rotated the key) or when a row needs a key version
it does not hold, and it forgets the keyring when the file disappears, so removing the key
seals the vault without a restart and putting it back unseals it.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from avisa.db.tables.vault import vault_keys
from avisa.errors import VaultSealedError
from avisa.vault.keyring import FileStamp, Keyring, KeyringSource


class KeyVersionMissingError(VaultSealedError):
    """The keyring lacks a key version a row was wrapped with.

    Either the key file is incomplete (sealed), or a rotation rewrapped the row and retired
    that version after the caller read it: reading the row again tells which.
    """


class KeystoreCache:
    """Loads, validates and caches the keyring of one `KeyringSource`."""

    def __init__(self, source: KeyringSource, engine: Engine) -> None:
        self.source = source
        self._engine = engine
        self._lock = threading.Lock()
        self._keyring: Keyring | None = None
        self._stamp: FileStamp | None = None

    def __repr__(self) -> str:
        return f"KeystoreCache({self.source.describe()})"

    def keyring(self, need_version: int | None = None, conn: Connection | None = None) -> Keyring:
        """The current keyring, holding `need_version` if given.

        Pass the caller's open connection as `conn` when inside a transaction: on SQLite a
        second connection would wait for the first one's write lock.

        Raises VaultSealedError when the key is missing, unreadable, has loose permissions,
        does not match the database's fingerprints, or lacks `need_version`.
        """
        with self._lock:
            stamp = self.source.stamp()
            fresh = self._keyring is not None and stamp == self._stamp
            if not self.source.from_environment and stamp is None:
                fresh = False
            if (
                fresh
                and self._keyring is not None
                and (need_version is None or need_version in self._keyring.keys)
            ):
                return self._keyring
            self._keyring = None
            keyring = self._load_checked(conn)
            self._keyring, self._stamp = keyring, stamp
        if need_version is not None and need_version not in keyring.keys:
            raise KeyVersionMissingError(
                f"vault is sealed: the root keyring ({self.source.describe()}) lacks key "
                f"version {need_version}, which this database uses",
                fix="restore the key file that holds that version from your backup",
            )
        return keyring

    def _load_checked(self, conn: Connection | None) -> Keyring:
        """Load the file and check it against the database, once more if a version is
        missing: a rotation writes the file before it registers the version, so a file read
        just before a rotation may lack a version the database names a moment later."""
        try:
            keyring = self.source.load()
            check_fingerprints(conn or self._engine, keyring, self.source)
        except KeyVersionMissingError:
            keyring = self.source.load()
            check_fingerprints(conn or self._engine, keyring, self.source)
        return keyring

    def replace(self, keyring: Keyring) -> None:
        """Adopt a keyring this process has just written to the source."""
        with self._lock:
            self._keyring, self._stamp = keyring, self.source.stamp()


def check_fingerprints(
    engine: Engine | Connection, keyring: Keyring, source: KeyringSource
) -> None:
    """Refuse a keyring whose keys differ from the ones the database was encrypted with."""
    query = sa.select(vault_keys.c.version, vault_keys.c.fingerprint, vault_keys.c.retired_at)
    if isinstance(engine, Engine):
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    else:
        rows = engine.execute(query).all()
    mine = keyring.fingerprints()
    for row in rows:
        if row.version in mine and mine[row.version] != row.fingerprint:
            raise VaultSealedError(
                f"vault is sealed: the root key from {source.describe()} is not the one this "
                f"database was encrypted with (key version {row.version} differs)",
                fix="restore the original key file or AVISA_ROOT_KEY from your backup",
            )
        if row.retired_at is None and row.version not in mine:
            raise KeyVersionMissingError(
                f"vault is sealed: the root keyring ({source.describe()}) lacks key version "
                f"{row.version}, which this database uses",
                fix="restore the key file that holds that version from your backup",
            )
