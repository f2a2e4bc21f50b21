"""Service keys: the rejection matrix of the bearer check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from avisa.errors import AuthError
from avisa.vault.tokens import issue_token, verify_token

SECRET = "a-test-signing-secret-of-enough-length-0123456789"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "role": "service_role",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_a_fresh_key_verifies() -> None:
    claims = verify_token(issue_token(SECRET, "service_role", NOW), SECRET, NOW)
    assert claims.role == "service_role"
    assert claims.expires_at > NOW


def _rsa_token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_claims(), key, algorithm="RS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("a.b.c", id="three-garbage-parts"),
        pytest.param(
            jwt.encode(_claims(), "another-secret-entirely-0123456789"), id="bad-signature"
        ),
        pytest.param(
            jwt.encode(_claims(exp=int((NOW - timedelta(seconds=1)).timestamp())), SECRET),
            id="expired",
        ),
        pytest.param(jwt.encode(_claims(role=None), SECRET), id="no-role"),
        pytest.param(jwt.encode(_claims(exp=None), SECRET), id="no-exp"),
        pytest.param(jwt.encode(_claims(iat=None), SECRET), id="no-iat"),
        pytest.param(jwt.encode(_claims(role=["service_role"]), SECRET), id="role-not-string"),
        pytest.param(
            jwt.encode(_claims(iat=int((NOW + timedelta(hours=1)).timestamp())), SECRET),
            id="issued-in-the-future",
        ),
        pytest.param(f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.", id="alg-none"),
        pytest.param(
            f"{_b64({'alg': 'HS512', 'typ': 'JWT'})}.{_b64(_claims())}.c2ln", id="alg-hs512"
        ),
        pytest.param(_rsa_token(), id="alg-rs256"),
    ],
)
def test_rejected_tokens_all_fail_with_the_same_message(token: str) -> None:
    """Whatever is wrong, the error says the same thing: it tells an attacker nothing."""
    with pytest.raises(AuthError) as info:
        verify_token(token, SECRET, NOW)
    assert str(info.value) == "invalid service key"


def test_expiry_follows_the_injected_clock() -> None:
    token = issue_token(SECRET, "anon", NOW, lifetime=timedelta(minutes=5))
    assert verify_token(token, SECRET, NOW + timedelta(minutes=4)).role == "anon"
    with pytest.raises(AuthError):
        verify_token(token, SECRET, NOW + timedelta(minutes=5))


def test_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        issue_token(SECRET, "admin", NOW)
