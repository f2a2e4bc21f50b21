"""Workers on the real clock: woken by job changes (NOTIFY on PostgreSQL, the marker on
SQLite) rather than polling, and the scheduler thread `avisa serve` runs."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from avisa.clock import SystemClock
from avisa.cron.commands import sql_command
from avisa.cron.execute import CommandRunner
from avisa.cron.functions import FunctionRegistry
from avisa.cron.jobs import CronJobs
from avisa.cron.model import RunStatus
from avisa.cron.runs import RunStore
from avisa.cron.runtime import SchedulerThread, build_scheduler, cron_jobs
from avisa.cron.store import JobStore, WorkerStore
from avisa.cron.worker import Scheduler, WorkerSettings
from avisa.services import build_services


@pytest.mark.timeout(30)
def test_a_job_created_while_the_worker_sleeps_runs_promptly(
    migrated_engine: Engine, functions: FunctionRegistry, lookup: Any
) -> None:
    clock = SystemClock()
    jobs = CronJobs(JobStore(migrated_engine), RunStore(migrated_engine), clock, functions)
    scheduler = Scheduler(
        migrated_engine,
        clock,
        CommandRunner(migrated_engine, clock, functions, lookup),
        settings=WorkerSettings(
            heartbeat_interval=timedelta(seconds=60),
            lost_after=timedelta(seconds=120),
            change_poll_interval=0.2,
        ),
        worker_id="sleeper",
    )

    async def scenario() -> float:
        stop = asyncio.Event()
        worker = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(0.5)  # no jobs: the worker sleeps for its 60 s heartbeat
        created = time.monotonic()
        job, _ = await asyncio.to_thread(
            jobs.schedule, "late", "1 seconds", sql_command("SELECT 1")
        )
        store = RunStore(migrated_engine)
        while not await asyncio.to_thread(store.find, jobid=job.jobid, status=RunStatus.succeeded):
            assert time.monotonic() - created < 10, "the worker was not woken"
            await asyncio.sleep(0.05)
        stop.set()
        await worker
        return time.monotonic() - created

    assert asyncio.run(scenario()) < 10


@pytest.mark.timeout(30)
def test_the_serve_thread_schedules_beside_the_server_and_stops_cleanly(
    make_settings: Any, migrated_engine: Engine
) -> None:
    """What `avisa serve` runs: a scheduler on its own thread; stopping it unregisters it."""
    services = build_services(make_settings(), engine=migrated_engine)
    job, _ = cron_jobs(services).schedule("beside", "1 seconds", sql_command("SELECT 1"))
    thread = SchedulerThread(build_scheduler(services, kind="serve"))
    thread.start()
    store = RunStore(migrated_engine)
    deadline = time.monotonic() + 10
    try:
        while not store.find(jobid=job.jobid, status=RunStatus.succeeded):
            assert time.monotonic() < deadline, "no run from the scheduler thread"
            time.sleep(0.05)
        assert WorkerStore(migrated_engine).live(SystemClock().now() - timedelta(seconds=10))
    finally:
        thread.stop()
    assert WorkerStore(migrated_engine).live(SystemClock().now() - timedelta(seconds=10)) == []
