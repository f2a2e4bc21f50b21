"""Service keys: HS256 JWTs with `role`, `iat` and `exp`, as Supabase issues them.

`issue_token` makes the `anon` and `service_role` keys; `verify_token` is the one check the
HTTP layer uses. Verification is pinned to HS256 (a token declaring `none`, RS256 or any
other algorithm is refused before its signature is looked at), requires `role`, `iat` and
`exp`, and compares `exp` with the injected `now`, not the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from avisa.errors import AuthError

ALGORITHM = "HS256"
ISSUER = "avisa"
#: Long-lived like Supabase's keys: rotated by replacing the secret, not by expiry.
DEFAULT_LIFETIME = timedelta(days=3650)
#: Tolerance for `iat` slightly in the future (clock skew between hosts).
CLOCK_SKEW = timedelta(seconds=60)
ROLES = ("anon", "service_role")


@dataclass(frozen=True)
class Claims:
    """The verified content of a service key."""

    role: str
    issued_at: datetime
    expires_at: datetime


def issue_token(
    secret: str, role: str, now: datetime, lifetime: timedelta = DEFAULT_LIFETIME
) -> str:
    """Sign a key for `role` valid from `now` for `lifetime`."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    payload = {
        "iss": ISSUER,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str, now: datetime) -> Claims:
    """Check signature, algorithm, required claims and expiry of `token` at `now`.

    Raises AuthError (one generic message, whatever the reason, so that the answer tells an
    attacker nothing) for a malformed, badly signed, expired or wrongly typed token.
    """
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise AuthError("invalid service key")
        payload: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": ["role", "iat", "exp"],
                # Expiry is checked below against the injected clock.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise AuthError("invalid service key") from None
    role, iat, exp = payload.get("role"), payload.get("iat"), payload.get("exp")
    if not isinstance(role, str) or not _is_number(iat) or not _is_number(exp):
        raise AuthError("invalid service key")
    issued = datetime.fromtimestamp(float(iat), UTC)  # type: ignore[arg-type]
    expires = datetime.fromtimestamp(float(exp), UTC)  # type: ignore[arg-type]
    if now >= expires or issued > now + CLOCK_SKEW:
        raise AuthError("invalid service key")
    return Claims(role=role, issued_at=issued, expires_at=expires)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
