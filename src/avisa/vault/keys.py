"""The service keys: `JWT_SECRET`, `ANON_KEY` and `SERVICE_ROLE_KEY`, kept in the vault.

`ServiceKeys.verify` is what the HTTP layer calls for every request. It reads `JWT_SECRET`
from the vault at most once per `ttl` seconds, so a rotated secret takes effect within that
time in every process, with no restart.
"""

from __future__ import annotations

import secrets
import threading

from avisa.clock import Clock
from avisa.errors import NotFoundError
from avisa.vault.service import Vault
from avisa.vault.tokens import Claims, issue_token, verify_token

# Names of vault secrets, not secret values.
JWT_SECRET = "JWT_SECRET"  # noqa: S105
ANON_KEY = "ANON_KEY"
SERVICE_ROLE_KEY = "SERVICE_ROLE_KEY"
ROLE_SECRETS = {"anon": ANON_KEY, "service_role": SERVICE_ROLE_KEY}


class ServiceKeys:
    """Creates the keys at init and verifies bearer tokens against the current JWT secret."""

    def __init__(self, vault: Vault, clock: Clock, ttl: float = 5.0) -> None:
        self._vault = vault
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, str] | None = None

    def __repr__(self) -> str:
        return "ServiceKeys()"

    def verify(self, token: str) -> Claims:
        """Verify a bearer token. Raises AuthError, or VaultSealedError/NotFoundError when
        the JWT secret cannot be read (the caller answers 503 then, not 401)."""
        return verify_token(token, self._jwt_secret(), self._clock.now())

    def _jwt_secret(self) -> str:
        now = self._clock.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
        value = self._vault.read_internal(JWT_SECRET)
        with self._lock:
            self._cached = (now, value)
        return value

    def ensure(self) -> list[str]:
        """Create whichever of the three secrets is absent; return what was created.

        A soft-deleted key is left alone (reported), so that `init` never hides an
        operator's deletion; `avisa verify` flags it.
        """
        vault = self._vault.with_actor("system")
        existing = {meta.name: meta for meta in vault.list_secrets(include_deleted=True)}
        changes: list[str] = []
        if JWT_SECRET not in existing:
            vault.create_secret(
                secrets.token_urlsafe(48), JWT_SECRET, "signing secret of the service keys"
            )
            changes.append(f"created vault secret {JWT_SECRET}")
        for role, name in ROLE_SECRETS.items():
            meta = existing.get(name)
            if meta is not None:
                if meta.deleted_at is not None:
                    changes.append(f"left deleted secret {name} alone (`avisa vault restore`)")
                continue
            token = issue_token(vault.read_internal(JWT_SECRET), role, self._clock.now())
            vault.create_secret(token, name, f"{role} key (HS256 JWT)")
            changes.append(f"created vault secret {name}")
        return changes

    def keys(self) -> dict[str, str]:
        """The anon and service_role keys, for `avisa keys` (audited reads)."""
        vault = self._vault.with_actor("cli")
        found: dict[str, str] = {}
        for role, name in ROLE_SECRETS.items():
            try:
                found[role] = vault.get_secret(name)
            except NotFoundError:
                continue
        return found
