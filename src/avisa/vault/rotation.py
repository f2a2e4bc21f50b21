"""Root key rotation with rewrap, safe while other processes read and write.

1. A new key version is added to the key file (file first: the database never names a key
   that is not on disk).
2. The version is registered in `vault_keys`; from then on every writer wraps with it.
3. Every data key wrapped by an older version is rewrapped in batches. Values are never
   decrypted: only the 32-byte data keys are unwrapped and wrapped again, in memory.
4. In one transaction the old versions are retired and any row a concurrent writer wrapped
   with them meanwhile is rewrapped. On PostgreSQL writers hold a share lock on the key
   version they use, so retiring it waits for them; on SQLite writers are serialised.
5. The old keys are removed from the key file.

Readers in other processes keep working throughout: a row wrapped by a version their cached
keyring lacks makes them reload the key file (see keystore.py). An interrupted rotation is
finished by running it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avisa.db.engine import is_sqlite
from avisa.db.tables.vault import vault_keys, vault_secret_versions, vault_secrets
from avisa.errors import VaultSealedError
from avisa.vault import crypto
from avisa.vault.keyring import Keyring

if TYPE_CHECKING:  # the vault calls rotate_root_key; a runtime import would be circular
    from avisa.vault.service import Vault

BATCH = 200


@dataclass(frozen=True)
class RotationReport:
    new_version: int
    retired_versions: tuple[int, ...]
    rewrapped: int

    def describe(self) -> str:
        retired = ", ".join(map(str, self.retired_versions)) or "none"
        return (
            f"root key rotated to version {self.new_version}; {self.rewrapped} data keys "
            f"rewrapped; retired versions: {retired}"
        )


def rotate_root_key(vault: Vault) -> RotationReport:
    """Rotate the root key of `vault` (see the module docstring for the steps).

    Raises VaultSealedError when the vault is sealed or the key comes from AVISA_ROOT_KEY
    (which avisa cannot rewrite).
    """
    source = vault.keystore.source
    if source.from_environment:
        raise VaultSealedError(
            "cannot rotate: the root key comes from AVISA_ROOT_KEY, which avisa cannot change",
            fix="move the key to a file (AVISA_ROOT_KEY_FILE, mode 0600) and unset AVISA_ROOT_KEY",
        )
    with vault._audited("rotate", "*root key*"):
        keyring = vault.keystore.keyring()
        with vault.engine.connect() as conn:
            known = conn.execute(sa.select(sa.func.max(vault_keys.c.version))).scalar() or 0
        new_version = max(known, keyring.newest) + 1
        keyring = keyring.with_key(new_version, crypto.new_root_key())
        source.save(keyring)
        vault.keystore.replace(keyring)
        with vault.engine.begin() as conn:
            conn.execute(
                sa.insert(vault_keys).values(
                    version=new_version,
                    fingerprint=crypto.fingerprint(keyring.keys[new_version]),
                    created_at=vault.clock.now(),
                )
            )
        rewrapped = 0
        while True:
            with vault.engine.begin() as conn:
                done = _rewrap_batch(conn, keyring, new_version, skip_locked=True)
            rewrapped += done
            if done == 0:
                break
        with vault.engine.begin() as conn:
            retired_rows = conn.execute(
                sa.update(vault_keys)
                .where(vault_keys.c.version != new_version, vault_keys.c.retired_at.is_(None))
                .values(retired_at=vault.clock.now())
                .returning(vault_keys.c.version)
            ).all()
            # Writers that wrapped with an old version before it was retired have committed
            # by now (they held it locked); catch their rows in the same transaction.
            while (done := _rewrap_batch(conn, keyring, new_version, skip_locked=False)) > 0:
                rewrapped += done
            vault._audit(conn, "rotate", None, None, True, f"key version {new_version}")
        retired = tuple(sorted(row.version for row in retired_rows))
        old = set(keyring.versions) - {new_version}
        final = keyring.without(old)
        source.save(final)
        vault.keystore.replace(final)
    return RotationReport(new_version=new_version, retired_versions=retired, rewrapped=rewrapped)


def _rewrap_batch(
    conn: Connection, keyring: Keyring, new_version: int, *, skip_locked: bool
) -> int:
    """Rewrap up to `BATCH` rows of each table wrapped by an older key; return how many.

    With `skip_locked` (PostgreSQL), rows being updated elsewhere are left for a later
    pass instead of waiting; the final pass waits for them so that none is missed.
    """
    new_key = keyring.keys[new_version]
    done = 0
    for table, version_col in (
        (vault_secrets, vault_secrets.c.version),
        (vault_secret_versions, vault_secret_versions.c.version),
    ):
        id_col = table.c.id if table is vault_secrets else table.c.secret_id
        query = (
            sa.select(
                id_col.label("sid"),
                version_col.label("ver"),
                table.c.key_version,
                table.c.wrapped_key,
                table.c.ciphertext,
            )
            .where(table.c.key_version != new_version)
            .limit(BATCH)
        )
        if not is_sqlite(conn):
            query = query.with_for_update(skip_locked=skip_locked)
        for row in conn.execute(query).all():
            if row.key_version not in keyring.keys:
                raise VaultSealedError(
                    f"cannot rotate: a secret uses key version {row.key_version}, which the "
                    "keyring lacks",
                    fix="restore the key file holding that version, then rotate again",
                )
            envelope = crypto.Envelope(row.ciphertext, row.wrapped_key, row.key_version)
            fresh = crypto.rewrap(
                envelope, keyring.keys[row.key_version], new_key, new_version, row.sid, row.ver
            )
            result = conn.execute(
                sa.update(table)
                .where(
                    id_col == row.sid,
                    version_col == row.ver,
                    table.c.key_version == row.key_version,
                )
                .values(key_version=new_version, wrapped_key=fresh.wrapped_key)
            )
            done += result.rowcount
    return done
