"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from avisa.db.engine import ping
from avisa.errors import VaultSealedError
from avisa.services import Services
from avisa.web.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a dependency is not ready"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the database answers and the vault is unsealed."""
    checks: dict[str, Any] = {}
    try:
        await asyncio.to_thread(ping, services.engine)
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    checks["vault"] = await asyncio.to_thread(vault_state, services)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def vault_state(services: Services) -> str:
    """`ok`, or `sealed: <why>` (the reason names the key source, never key material)."""
    try:
        services.vault.keystore.keyring()
    except VaultSealedError as exc:
        return f"sealed: {exc.message}"
    except SQLAlchemyError as exc:
        return f"unknown ({type(exc).__name__})"
    return "ok"
