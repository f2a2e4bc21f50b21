"""The vault's part of `avisa diagnose`: key source, permissions, fingerprints, every secret."""

from __future__ import annotations

import stat

import sqlalchemy as sa

from avisa.checks import Check, fail, ok, warn
from avisa.db.tables.vault import vault_keys, vault_secret_versions, vault_secrets
from avisa.errors import AvisaError, VaultSealedError
from avisa.vault.service import Vault


def diagnose_vault(vault: Vault) -> list[Check]:
    """Check the root key and decrypt every stored secret version (without auditing reads)."""
    source = vault.keystore.source
    checks: list[Check] = []
    if source.from_environment:
        checks.append(ok("root key source", "AVISA_ROOT_KEY"))
    elif source.path.exists():
        checks.append(ok("root key source", f"key file {source.path}"))
        mode = stat.S_IMODE(source.path.stat().st_mode)
        if mode & 0o077:
            checks.append(
                fail("root key permissions", f"mode {mode:04o}", fix=f"chmod 600 {source.path}")
            )
        else:
            checks.append(ok("root key permissions", f"mode {mode:04o}"))
    else:
        checks.append(
            fail(
                "root key source",
                f"AVISA_ROOT_KEY is not set and {source.path} does not exist",
                fix="restore the key file from your backup (or run `avisa init` on a new "
                "installation)",
            )
        )
        return checks
    try:
        keyring = vault.keystore.keyring()
    except VaultSealedError as exc:
        checks.append(fail("root key", exc.message, fix=exc.fix))
        return checks
    with vault.engine.connect() as conn:
        active = (
            conn.execute(sa.select(vault_keys.c.version).where(vault_keys.c.retired_at.is_(None)))
            .scalars()
            .all()
        )
        in_use = sorted(
            set(conn.execute(sa.select(vault_secrets.c.key_version).distinct()).scalars())
            | set(conn.execute(sa.select(vault_secret_versions.c.key_version).distinct()).scalars())
        )
    checks.append(
        ok(
            "root key versions",
            f"keyring holds {keyring.versions}; database uses {in_use or 'none yet'}; "
            f"active for new writes: {max(active) if active else 'none'}",
        )
    )
    if not active:
        checks.append(fail("root key registered", "no key version registered", "run `avisa init`"))
    checks.append(_decrypt_everything(vault))
    return checks


def _decrypt_everything(vault: Vault) -> Check:
    problems: list[str] = []
    total = 0
    with vault.engine.connect() as conn:
        current = conn.execute(sa.select(vault_secrets)).all()
        history = conn.execute(
            sa.select(vault_secret_versions, vault_secrets.c.name).join(
                vault_secrets, vault_secrets.c.id == vault_secret_versions.c.secret_id
            )
        ).all()
    stored = [(r.id, r) for r in current] + [(r.secret_id, r) for r in history]
    for secret_id, row in stored:
        total += 1
        version = row.version
        try:
            vault._decrypt(secret_id, row.name, version, row)
        except AvisaError as exc:
            problems.append(f"{row.name} v{version} ({type(exc).__name__})")
    if problems:
        return fail(
            "secrets decrypt",
            f"{len(problems)} of {total} versions do not decrypt: {', '.join(problems[:10])}",
            fix="set new values with `avisa vault update NAME`",
        )
    if total == 0:
        return warn("secrets decrypt", "no secrets stored", fix="run `avisa init`")
    return ok("secrets decrypt", f"all {total} stored versions decrypt")
