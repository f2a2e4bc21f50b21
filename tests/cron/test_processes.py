"""Real `avisa worker` processes on one database: every tick runs exactly once, and a
worker killed with SIGKILL mid-run has its run failed as "worker lost" by another.

These run on the real clock (seconds-long), so they are marked slow; they still run in
`make test`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from avisa.clock import SystemClock
from avisa.cron.commands import http_command, sql_command
from avisa.cron.functions import builtin_functions
from avisa.cron.jobs import CronJobs, JobChanges
from avisa.cron.model import Run, RunStatus
from avisa.cron.runs import RunStore
from avisa.cron.store import JobStore, WorkerStore
from tests.support.net import wait_for
from tests.support.server import serve_app

pytestmark = pytest.mark.slow

Spawn = Callable[[str], "subprocess.Popen[bytes]"]


@pytest.fixture
def spawn_worker(tmp_path: Path, database_url: str) -> Iterator[Spawn]:
    """Start `avisa worker` processes (1 s heartbeat, lost after 3 s); all stopped after."""
    started: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")}
    env.update(
        AVISA_DATABASE_URL=database_url,
        AVISA_DATA_DIR=str(tmp_path / "data"),
        AVISA_LOG_FORMAT="json",
    )

    def spawn(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "avisa",
                    "worker",
                    "--heartbeat",
                    "1s",
                    "--lost-after",
                    "3s",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def real_time_jobs(engine: Engine) -> CronJobs:
    return CronJobs(JobStore(engine), RunStore(engine), SystemClock(), builtin_functions())


def live_workers(engine: Engine) -> list[str]:
    return WorkerStore(engine).live(SystemClock().now() - timedelta(seconds=3))


def unfinished(engine: Engine) -> list[Run]:
    store = RunStore(engine)
    return [*store.find(status=RunStatus.starting), *store.find(status=RunStatus.running)]


@pytest.mark.timeout(90)
def test_every_tick_runs_exactly_once_across_four_worker_processes(
    migrated_engine: Engine, spawn_worker: Spawn
) -> None:
    """Four workers, sixteen `1 seconds` and four `2 seconds` jobs for ~12 s (≈210 ticks):
    per job the ticks are consecutive (none missing), each has one run (none twice), and
    the job's side effect happened exactly as many times as it has runs."""
    with migrated_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tick_log (jobname VARCHAR(50) NOT NULL)"))
    jobs = real_time_jobs(migrated_engine)
    intervals = {f"one-{i}": 1 for i in range(16)} | {f"two-{i}": 2 for i in range(4)}
    for name, seconds in intervals.items():
        # The name is one of ours, above: no injection to fear in a test's own literal.
        command = sql_command(f"INSERT INTO tick_log (jobname) VALUES ('{name}')")  # noqa: S608
        jobs.schedule(name, f"{seconds} seconds", command, active=False)
    workers = [spawn_worker(f"w{i}") for i in range(4)]
    wait_for(lambda: len(live_workers(migrated_engine)) == 4, 30, "four live workers")
    for name in intervals:
        jobs.alter(name, JobChanges(active=True))
    time.sleep(12)
    for name in intervals:
        jobs.alter(name, JobChanges(active=False))
    wait_for(lambda: not unfinished(migrated_engine), 15, "runs in flight to end")
    assert all(worker.poll() is None for worker in workers), "a worker died"

    store = RunStore(migrated_engine)
    ran_by: set[str] = set()
    total = 0
    with migrated_engine.connect() as conn:
        executions: dict[str, int] = dict(
            conn.execute(sa.text("SELECT jobname, count(*) FROM tick_log GROUP BY jobname")).all()
        )
    for name, seconds in intervals.items():
        job = jobs.get(name)
        runs = sorted(store.find(jobid=job.jobid, limit=1000), key=lambda r: r.scheduled_for)
        problems = [
            (r.scheduled_for, r.status, r.return_message)
            for r in runs
            if r.status is not RunStatus.succeeded
        ]
        assert problems == [], name
        ticks = [r.scheduled_for for r in runs]
        assert len(ticks) >= 12 // seconds - 2, name
        gaps = {later - earlier for earlier, later in itertools.pairwise(ticks)}
        assert gaps == {timedelta(seconds=seconds)}, name
        assert executions[name] == len(runs), name
        ran_by.update(r.worker or "" for r in runs)
        total += len(runs)
    assert total >= 180
    assert len(ran_by) >= 2, "the work should be shared between processes"


@pytest.mark.timeout(60)
def test_a_worker_killed_mid_run_is_recovered_by_another(
    migrated_engine: Engine, spawn_worker: Spawn
) -> None:
    """A's HTTP call hangs; A gets SIGKILL; B fails A's run as "worker lost" within the
    lost-after bound and runs the job's next tick."""
    calls: list[str] = []
    release = threading.Event()

    async def hang_once(_request: Request) -> Response:
        calls.append("call")
        if len(calls) == 1:
            for _ in range(300):
                if release.is_set():
                    break
                await asyncio.sleep(0.1)
        return PlainTextResponse("done")

    app = Starlette(routes=[Route("/hang-once", hang_once, methods=["POST"])])
    with serve_app(app) as url:
        jobs = real_time_jobs(migrated_engine)
        job, _ = jobs.schedule("victim", "1 seconds", http_command(f"{url}/hang-once"))
        a = spawn_worker("a")
        store = RunStore(migrated_engine)
        hung = wait_for(
            lambda: store.find(jobid=job.jobid, status=RunStatus.running), 30, "a running run"
        )[0]
        wait_for(lambda: calls, 10, "the hanging call")
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        spawn_worker("b")
        lost = wait_for(
            lambda: (run := store.get(hung.runid)) and run.status is RunStatus.failed and run,
            30,
            "the run to be failed as lost",
        )
        assert lost.return_message.startswith("worker lost")
        assert lost.worker == hung.worker
        later = wait_for(
            lambda: [
                r
                for r in store.find(jobid=job.jobid, status=RunStatus.succeeded)
                if r.scheduled_for > hung.scheduled_for
            ],
            20,
            "a later successful run",
        )
        assert later[0].worker != hung.worker
        jobs.alter("victim", JobChanges(active=False))
        release.set()
