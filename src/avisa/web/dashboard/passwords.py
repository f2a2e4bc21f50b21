"""The dashboard's admin password: scrypt-hashed, the hash kept in the vault.

Only the hash is stored (vault secret `DASHBOARD_ADMIN_PASSWORD_HASH`, itself encrypted),
so neither a database dump nor the vault's owner learns the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from avisa.errors import AvisaError, NotFoundError
from avisa.vault.service import Vault

#: Name of the vault secret holding the hash (a name, not a value).
ADMIN_HASH_SECRET = "DASHBOARD_ADMIN_PASSWORD_HASH"  # noqa: S105
MIN_LENGTH = 12
# scrypt at 2^14 x 8: about 16 MiB and tens of milliseconds per guess, OWASP's floor.
_N, _R, _P = 2**14, 8, 1


class WeakPasswordError(AvisaError):
    """The password is too short to protect the dashboard."""


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, base64 parts. Raises WeakPasswordError under 12 characters."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"the admin password needs at least {MIN_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (a `hash_password` result); False if malformed."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def set_admin_password(vault: Vault, password: str) -> bool:
    """Store the hash of `password`; returns True when it replaced an earlier one."""
    hashed = hash_password(password)
    try:
        vault.update_secret(ADMIN_HASH_SECRET, hashed, None, None, None)
    except NotFoundError:
        vault.create_secret(hashed, ADMIN_HASH_SECRET, "scrypt hash of the dashboard password")
        return False
    return True


def admin_hash(vault: Vault) -> str | None:
    """The stored hash, or None when no admin password is set."""
    try:
        return vault.read_internal(ADMIN_HASH_SECRET)
    except NotFoundError:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()
