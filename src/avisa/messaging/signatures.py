"""Webhook signatures as Twilio and Meta compute them.

- Twilio (`X-Twilio-Signature`): base64 of HMAC-SHA1, keyed with the account's auth
  token, over the full URL Twilio called followed by every POST parameter, sorted by name
  (then value), each written as name + value with no separator.
- Meta (`X-Hub-Signature-256`): `sha256=` + hex HMAC-SHA256 of the raw body, keyed with
  the app secret.

Comparisons are constant-time. Pure: no database, no web.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def twilio_signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The `X-Twilio-Signature` value Twilio sends for a POST of `params` to `url`."""
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_valid(
    signature: str | None, url: str, params: Iterable[tuple[str, str]], auth_token: str
) -> bool:
    """Whether `signature` is Twilio's for this request; False when missing."""
    if not signature or not auth_token:
        return False
    expected = twilio_signature(url, params, auth_token)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def meta_signature(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` value Meta sends for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def meta_valid(signature: str | None, body: bytes, app_secret: str) -> bool:
    """Whether `signature` is Meta's for `body`; False when missing or malformed."""
    if not signature or not app_secret:
        return False
    expected = meta_signature(body, app_secret)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time equality for Meta's `hub.verify_token` handshake."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())
