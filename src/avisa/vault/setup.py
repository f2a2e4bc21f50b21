"""The vault's part of `avisa init`: a root key, registered, and the service keys."""

from __future__ import annotations

import sqlalchemy as sa

from avisa.db.tables.vault import vault_keys
from avisa.services import Services
from avisa.vault import crypto
from avisa.vault.keystore import check_fingerprints


def ensure_vault(services: Services) -> list[str]:
    """Create the root key file if this is a new installation, register it, create keys.

    A database that already has keys but no key file is NOT given a new key: that would
    make every stored secret unreadable. The sealed error says how to restore the key.
    """
    source = services.vault.keystore.source
    changes: list[str] = []
    with services.engine.connect() as conn:
        registered = conn.execute(sa.select(vault_keys.c.version)).scalars().all()
    if not source.exists() and not registered:
        keyring = source.create()
        changes.append(
            f"created root key file {source.path} (mode 0600); back it up: without it no "
            "secret can be read"
        )
    else:
        keyring = source.load()
        check_fingerprints(services.engine, keyring, source)
    if not registered:
        with services.engine.begin() as conn:
            for version, key in sorted(keyring.keys.items()):
                conn.execute(
                    sa.insert(vault_keys).values(
                        version=version,
                        fingerprint=crypto.fingerprint(key),
                        created_at=services.clock.now(),
                    )
                )
        changes.append(f"registered root key version {keyring.newest} in the database")
    changes.extend(services.service_keys.ensure())
    return changes
