"""Liveness and readiness probes, shaped for load balancers and orchestrators.

- `/healthz`: the process is alive and serves HTTP. It touches nothing else, so a database
  outage never gets a healthy process restarted.
- `/readyz`: the database answers and the vault is unsealed; 200, or 503 with a `reason`.

Both need no key, answer GET and HEAD, and carry `Cache-Control: no-store` so that no proxy
answers for a process. `/readyz` is bounded: it answers within `READY_TIMEOUT` seconds
whatever the database does (a hung server, a full pool, a blackholed host). Its checks run
on a daemon thread, at most one at a time per process, and probes that arrive meanwhile
share that check's answer: a hung database costs one stuck thread, not one per probe, and
never holds up the process's exit. The checks only read (a `SELECT 1` straight on the
driver, and the vault's key fingerprints when the key file changed): no audit row, no row
at all, and on SQLite no write lock. Bodies name the failing check and an exception class,
never SQL, a URL or a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from avisa.errors import VaultSealedError
from avisa.services import Services

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

#: Seconds `/readyz` waits for its checks; load balancers commonly time probes out at 5 s.
READY_TIMEOUT = 2.0
#: The checks, in the order they run and are reported.
CHECKS = ("database", "vault")
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is alive and serving HTTP (touches neither the database nor the vault)."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.head("/healthz", include_in_schema=False)
async def healthz_head() -> Response:
    return Response(headers=NO_STORE)


@router.get(
    "/readyz",
    responses={
        200: {"description": "ready: the database answers and the vault is unsealed"},
        503: {"description": "not ready: `reason` and `checks` say which check failed"},
    },
)
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and the vault is unsealed.

    Answers within READY_TIMEOUT seconds: 200 `{"status": "ready", "checks": {...}}`, or
    503 with `"status": "not ready"` and a one-line `reason`.
    """
    checks = await _probe(request).check()
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
    if not ready:
        body["reason"] = "; ".join(
            f"{name}: {state}" for name, state in checks.items() if state != "ok"
        )
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


@router.head("/readyz", include_in_schema=False)
async def readyz_head(request: Request) -> Response:
    checks = await _probe(request).check()
    ready = all(value == "ok" for value in checks.values())
    return Response(status_code=200 if ready else 503, headers=NO_STORE)


def _probe(request: Request) -> ReadinessProbe:
    # One probe per application, made on first use: no await between the look-up and the
    # assignment, so concurrent first probes on the event loop cannot make two.
    probe: ReadinessProbe | None = getattr(request.app.state, "readiness", None)
    if probe is None:
        probe = ReadinessProbe(request.app.state.services)
        request.app.state.readiness = probe
    return probe


class _Check:
    """One run of the checks: results as they come in, and a future set when all are in."""

    def __init__(self) -> None:
        self.results: dict[str, str] = {}
        self.done: Future[None] = Future()
        # Running from the start: a waiter that times out cancels its wrapper of this
        # future, and that must not cancel the check other probes share.
        self.done.set_running_or_notify_cancel()


class ReadinessProbe:
    """Runs the readiness checks for `services` within `timeout` seconds, one at a time."""

    def __init__(self, services: Services, timeout: float = READY_TIMEOUT) -> None:
        self.services = services
        self.timeout = timeout
        self._lock = threading.Lock()
        self._current: _Check | None = None

    def __repr__(self) -> str:
        return f"ReadinessProbe(timeout={self.timeout:g})"

    async def check(self) -> dict[str, str]:
        """Each check's state: `ok`, or why not. Never raises; never waits past `timeout`."""
        current = self._join_or_start()
        # Past the timeout, what has not answered is reported as such below.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.wrap_future(current.done), self.timeout)
        with self._lock:
            results = dict(current.results)
        late = f"no answer within {self.timeout:g} s"
        return {name: results.get(name, late) for name in CHECKS}

    def _join_or_start(self) -> _Check:
        with self._lock:
            if self._current is not None and not self._current.done.done():
                return self._current
            current = self._current = _Check()
        # A daemon thread, not an executor's: a check stuck on a hung database must neither
        # take a worker from the pool other requests use nor delay the process's exit.
        threading.Thread(
            target=self._run, args=(current,), name="avisa-readyz", daemon=True
        ).start()
        return current

    def _run(self, current: _Check) -> None:
        try:
            for name, state in (("database", _database_state), ("vault", vault_state)):
                result = state(self.services)
                with self._lock:
                    current.results[name] = result
        finally:
            current.done.set_result(None)


def _database_state(services: Services) -> str:
    engine = services.engine
    try:
        ping_read_only(engine)
    except Exception as exc:  # a probe reports, it never raises; the class says enough
        if isinstance(exc, SQLAlchemyError | engine.dialect.loaded_dbapi.Error):
            return f"unreachable ({type(exc).__name__})"
        log.warning("readyz_database_check_failed", error_class=type(exc).__name__)
        return f"error ({type(exc).__name__})"
    return "ok"


def ping_read_only(engine: Engine) -> None:
    """Check out a pooled connection and run `SELECT 1` on the driver itself.

    SQLAlchemy would begin a transaction first, and avisa's SQLite transactions begin
    IMMEDIATE, taking the write lock: a probe must neither queue behind writers nor hold
    them up. Raises SQLAlchemyError (or the driver's error) when the database is down.
    """
    with engine.connect() as connection:
        cursor = connection.connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()


def vault_state(services: Services) -> str:
    """`ok`, or `sealed: <why>` (the reason names the key source, never key material)."""
    try:
        services.vault.keystore.keyring()
    except VaultSealedError as exc:
        return f"sealed: {exc.message}"
    except SQLAlchemyError as exc:
        return f"unknown ({type(exc).__name__})"
    except Exception as exc:  # a probe reports, it never raises; the class says enough
        log.warning("readyz_vault_check_failed", error_class=type(exc).__name__)
        return f"error ({type(exc).__name__})"
    return "ok"
