"""Bearer authentication with the service_role key.

401 for a missing, malformed, badly signed or expired key (one identical body, whatever the
reason), 403 for a valid key of another role (the anon key), 429 after repeated failures
from one address, 503 when the keys cannot be checked because the vault is sealed or not
initialised.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from avisa.errors import AuthError, NotFoundError, VaultSealedError
from avisa.vault.tokens import Claims
from avisa.web.deps import ServicesDep
from avisa.web.ratelimit import AuthFailureLimiter

UNAUTHORIZED = "invalid or missing service key"


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require_service_role(request: Request, services: ServicesDep) -> Claims:
    """FastAPI dependency: the verified claims of a service_role key, or an error answer.

    An address with too many recent failures gets 429 with `Retry-After` before its key is
    even looked at.
    """
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    address = client_address(request)
    wait = limiter.retry_after(address)
    if wait is not None:
        raise HTTPException(
            429, "too many failed attempts; try again later", headers={"Retry-After": str(wait)}
        )
    token = bearer_token(request)
    try:
        if token is None:
            raise AuthError(UNAUTHORIZED)
        claims = services.service_keys.verify(token)
    except AuthError:
        limiter.record_failure(address)
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}) from None
    except VaultSealedError:
        raise HTTPException(503, "vault is sealed: service keys cannot be checked") from None
    except NotFoundError:
        raise HTTPException(503, "service keys are not set up: run `avisa init`") from None
    limiter.record_success(address)
    if claims.role != "service_role":
        raise HTTPException(403, "this key's role may not use this endpoint")
    return claims


ServiceRoleDep = Annotated[Claims, Depends(require_service_role)]
