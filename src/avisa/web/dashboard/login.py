"""Logging in and out: the service_role key, or the admin password (`avisa dashboard
password`). Wrong answers count toward the same per-address limit as bad bearer keys."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from avisa.errors import AuthError, NotFoundError, VaultSealedError
from avisa.web.auth import client_address
from avisa.web.dashboard.core import (
    PREFIX,
    current_session,
    page,
    read_form,
    services_of,
    set_session,
)
from avisa.web.dashboard.passwords import admin_hash, check_password
from avisa.web.ratelimit import AuthFailureLimiter

router = APIRouter(prefix=PREFIX, include_in_schema=False)
REFUSED = "Wrong key or password."


def _safe_next(target: str | None) -> str:
    """Only a dashboard path: never an open redirect to another site."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/jobs"


@router.get("/login")
async def login_form(
    request: Request, next_path: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """The login form; it carries a CSRF token like every other form."""
    session = await asyncio.to_thread(current_session, request)
    if session is not None and session.logged_in:
        return RedirectResponse(_safe_next(next_path), status_code=303)
    session = session or request.app.state.dashboard_sessions.new(None)
    response = page(request, "login.html", session, {"next": _safe_next(next_path), "error": None})
    set_session(request, response, session)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    session, fields = await read_form(request)
    limiter: AuthFailureLimiter = request.app.state.auth_limiter
    address = client_address(request)
    target = _safe_next(fields.get("next"))
    wait = limiter.retry_after(address)
    if wait is not None:
        context = {"next": target, "error": f"Too many attempts; try again in {wait} s."}
        return page(request, "login.html", session, context, status_code=429)
    user = await asyncio.to_thread(_authenticate, request, fields.get("credential", ""))
    if user is None:
        limiter.record_failure(address)
        return page(request, "login.html", session, {"next": target, "error": REFUSED}, 401)
    limiter.record_success(address)
    response = RedirectResponse(target, status_code=303)
    # A new session (and CSRF token) at login: a token seen before login is worth nothing.
    set_session(request, response, request.app.state.dashboard_sessions.new(user))
    return response


def _authenticate(request: Request, credential: str) -> str | None:
    """`service_role`, `admin`, or None. Never says which part was wrong."""
    credential = credential.strip()
    if not credential or len(credential) > 4096:
        return None
    services = services_of(request)
    if credential.count(".") == 2:
        try:
            claims = services.service_keys.verify(credential)
        except (AuthError, VaultSealedError, NotFoundError):
            claims = None  # maybe a password that happens to hold two dots
        if claims is not None:
            return "service_role" if claims.role == "service_role" else None
    stored = admin_hash(services.vault)
    if stored is not None and check_password(credential, stored):
        return "admin"
    return None


@router.post("/logout")
async def logout(request: Request) -> Response:
    await read_form(request)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie("avisa_session", path=PREFIX)
    return response
