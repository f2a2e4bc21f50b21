"""Fixtures of the scheduler tests: job API, scheduler on a frozen clock, a real HTTP server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from avisa.clock import FrozenClock
from avisa.cron.execute import CommandRunner
from avisa.cron.functions import FunctionContext, FunctionRegistry, builtin_functions
from avisa.cron.jobs import CronJobs
from avisa.cron.runs import RunStore
from avisa.cron.store import JobStore
from avisa.cron.worker import Scheduler, WorkerSettings
from avisa.errors import NotFoundError
from tests.support.server import serve_app

#: A secret value that must never appear in a row, a message or a log line.
CANARY = "canary-7f3a9c1e5b-SECRET-value"


@dataclass
class Gate:
    """A function that blocks until released: a run that takes as long as a test wants."""

    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    calls: int = 0

    def __call__(self, _context: FunctionContext, _args: dict[str, Any]) -> str:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return "released"


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.release.set()


@pytest.fixture
def functions(gate: Gate) -> FunctionRegistry:
    """Built-in functions plus `gate` (blocks), `fail` (raises) and `ok` (returns)."""

    def fail(_context: FunctionContext, _args: dict[str, Any]) -> str:
        raise RuntimeError("it broke")

    def ok(_context: FunctionContext, args: dict[str, Any]) -> str:
        return f"ok {args.get('n', '')}".strip()

    registry = builtin_functions()
    registry.register("gate", gate)
    registry.register("fail", fail)
    registry.register("ok", ok)
    return registry


@pytest.fixture
def secrets() -> dict[str, str]:
    return {"TOKEN": CANARY}


@pytest.fixture
def lookup(secrets: dict[str, str]) -> Any:
    def get(name: str) -> str:
        try:
            return secrets[name]
        except KeyError:
            raise NotFoundError(f"no secret named {name!r}") from None

    return get


@pytest.fixture
def cron(migrated_engine: Engine, clock: FrozenClock, functions: FunctionRegistry) -> CronJobs:
    return CronJobs(JobStore(migrated_engine), RunStore(migrated_engine), clock, functions)


@pytest.fixture
def make_scheduler(
    migrated_engine: Engine, clock: FrozenClock, functions: FunctionRegistry, lookup: Any
) -> Any:
    """Build schedulers on the test database and frozen clock (several = several workers)."""

    def factory(worker_id: str = "w1", **settings: Any) -> Scheduler:
        runner = CommandRunner(migrated_engine, clock, functions, lookup)
        return Scheduler(
            migrated_engine,
            clock,
            runner,
            settings=WorkerSettings(**settings),
            worker_id=worker_id,
        )

    return factory


@pytest.fixture
def scheduler(make_scheduler: Any) -> Scheduler:
    built: Scheduler = make_scheduler()
    return built


def run_pass(scheduler: Scheduler) -> None:
    """One scheduling pass, then wait for the runs it started."""

    async def go() -> None:
        tasks = scheduler.run_pending()
        await asyncio.gather(*tasks)
        await scheduler.runner.aclose()

    asyncio.run(go())


@dataclass
class HttpTarget:
    """A real HTTP server on 127.0.0.1 and what it received."""

    url: str
    received: list[dict[str, Any]]


@pytest.fixture
def http_target(_http_server: HttpTarget) -> HttpTarget:
    """A real HTTP server on 127.0.0.1 (shared by the module's tests), its log emptied."""
    _http_server.received.clear()
    return _http_server


@pytest.fixture(scope="module")
def _http_server() -> Iterator[HttpTarget]:
    received: list[dict[str, Any]] = []

    async def record(request: Request) -> dict[str, Any]:
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": (await request.body()).decode(),
        }
        received.append(entry)
        return entry

    async def ok(request: Request) -> Response:
        await record(request)
        return JSONResponse({"ok": True})

    async def status(request: Request) -> Response:
        await record(request)
        code = int(request.path_params["code"])
        return PlainTextResponse(f"answered {code}", status_code=code)

    async def echo(request: Request) -> Response:
        entry = await record(request)
        return JSONResponse({"you_sent": entry["headers"], "query": entry["query"]})

    async def slow(request: Request) -> Response:
        await record(request)
        await asyncio.sleep(float(request.query_params.get("seconds", "5")))
        return PlainTextResponse("late")

    app = Starlette(
        routes=[
            Route("/ok", ok, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/status/{code}", status, methods=["GET", "POST"]),
            Route("/echo", echo, methods=["GET", "POST"]),
            Route("/slow", slow, methods=["GET", "POST"]),
        ]
    )
    with serve_app(app) as url:
        yield HttpTarget(url, received)


SECOND = timedelta(seconds=1)
