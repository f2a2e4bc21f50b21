"""Dashboard sessions: a signed cookie, a CSRF token per session, one-shot notices.

The cookie holds `{user, csrf, exp, flash}` as base64 JSON plus an HMAC-SHA256 signature;
nothing secret is inside (no key, no password). The signing key is derived from the
vault's `JWT_SECRET` and the admin password hash, so rotating the service keys or
changing the password ends every session. Expiry uses the injected clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import timedelta

from avisa.clock import Clock
from avisa.vault.keys import JWT_SECRET
from avisa.vault.service import Vault
from avisa.web.dashboard.passwords import admin_hash

COOKIE = "avisa_session"
TTL = timedelta(hours=12)
#: How long a derived key is reused before the vault is read again.
KEY_TTL = 30.0


@dataclass(frozen=True)
class Session:
    """`user` is None before login (the session then only carries the login form's token)."""

    user: str | None
    csrf: str
    expires: int
    flash: tuple[str, str] | None = None

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    def with_flash(self, kind: str, text: str) -> Session:
        return replace(self, flash=(kind, text[:300]))


class SessionCodec:
    """Signs and checks session cookies for one app."""

    def __init__(self, vault: Vault, clock: Clock) -> None:
        self._vault = vault
        self._clock = clock
        self._lock = threading.Lock()
        self._key: tuple[float, bytes] | None = None

    def __repr__(self) -> str:
        return "SessionCodec()"

    def new(self, user: str | None) -> Session:
        """A fresh session with a new CSRF token (a login always gets a new one)."""
        expires = int((self._clock.now() + TTL).timestamp())
        return Session(user=user, csrf=secrets.token_urlsafe(32), expires=expires)

    def dumps(self, session: Session) -> str:
        body = {"u": session.user, "c": session.csrf, "e": session.expires, "f": session.flash}
        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}"

    def loads(self, cookie: str | None) -> Session | None:
        """The session in `cookie`, or None if absent, forged, malformed or expired."""
        if not cookie or "." not in cookie or len(cookie) > 4096:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            user, csrf, expires = body["u"], body["c"], int(body["e"])
            flash = (str(body["f"][0]), str(body["f"][1])) if body.get("f") else None
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= self._clock.now().timestamp() or not isinstance(csrf, str):
            return None
        if user is not None and not isinstance(user, str):
            return None
        return Session(user, csrf, expires, flash)

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._signing_key(), payload.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def _signing_key(self) -> bytes:
        now = self._clock.monotonic()
        with self._lock:
            if self._key is not None and now - self._key[0] < KEY_TTL:
                return self._key[1]
        material = (
            self._vault.read_internal(JWT_SECRET) + (admin_hash(self._vault) or "")
        ).encode()
        key = hmac.new(material, b"avisa dashboard session v1", hashlib.sha256).digest()
        with self._lock:
            self._key = (now, key)
        return key


def csrf_matches(session: Session | None, token: str | None) -> bool:
    """Whether a form's token is this session's (constant-time)."""
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())
