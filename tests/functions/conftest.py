"""Fixtures: the real app on a real socket, with the default jobs pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from avisa.cron.commands import http_command
from avisa.cron.model import Run
from avisa.cron.runtime import build_scheduler, cron_jobs
from avisa.functions.registry import FunctionResult, HttpFunctions, builtin_http_functions
from avisa.functions.setup import AUTH_HEADER, DEFAULT_JOBS, function_url
from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app


def explode(_services: Services, _body: dict[str, Any], _now: datetime) -> FunctionResult:
    raise RuntimeError("boom with a private detail: hunter2")


def echo(_services: Services, body: dict[str, Any], _now: datetime) -> FunctionResult:
    return FunctionResult("echoed", {"keys": sorted(body)})


@dataclass
class Live:
    """An installation with its app served on a loopback port."""

    url: str
    services: Services

    def run_job(self, name: str) -> Run:
        """Run a job now, as `avisa cron run` does, through the real scheduler."""
        scheduler = build_scheduler(self.services, kind="test")
        job = cron_jobs(self.services).get(name)
        return asyncio.run(scheduler.run_now(job))

    def beat(self) -> None:
        """Leave a live scheduler heartbeat, as a running worker does."""
        build_scheduler(self.services, kind="test").beat()


@pytest.fixture
def functions() -> HttpFunctions:
    registry = builtin_http_functions()
    registry.register("explode", explode, "always fails")
    registry.register("echo", echo, "answers with the body's keys")
    return registry


@pytest.fixture
def live(services: Services, functions: HttpFunctions) -> Iterator[Live]:
    with serve_app(create_app(services, functions=functions)) as url:
        jobs = cron_jobs(services)
        for default in DEFAULT_JOBS:
            job = jobs.get(default.name)
            jobs.schedule(
                default.name,
                job.schedule,
                http_command(
                    function_url(url, default.function),
                    headers=[AUTH_HEADER, ("Content-Type", "application/json")],
                    body={},
                ),
            )
        yield Live(url, services)
