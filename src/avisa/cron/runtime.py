"""Wiring the scheduler to a running avisa: services in, CronJobs and Schedulers out.

Entry points (`avisa worker`, `avisa serve`, `avisa cron …`, `avisa init`, the admin API)
build what they need here, so that only this module knows that secrets come from the
vault and which functions ship with avisa.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from avisa.background import LoopThread
from avisa.cron.commands import function_command
from avisa.cron.execute import CommandRunner
from avisa.cron.functions import PURGE_FUNCTION, FunctionRegistry, builtin_functions
from avisa.cron.jobs import CronJobs
from avisa.cron.runs import RunStore
from avisa.cron.store import JobStore
from avisa.cron.worker import Scheduler, WorkerSettings, new_worker_id
from avisa.services import Services

log = structlog.get_logger(__name__)

#: The built-in retention job `avisa init` schedules when absent.
PURGE_JOB_NAME = "purge-cron-run-details"
PURGE_JOB_SCHEDULE = "17 3 * * *"


def cron_jobs(services: Services, functions: FunctionRegistry | None = None) -> CronJobs:
    """The job API on `services`' database and clock."""
    return CronJobs(
        JobStore(services.engine),
        RunStore(services.engine),
        services.clock,
        functions or builtin_functions(),
    )


def build_scheduler(
    services: Services,
    *,
    kind: str = "worker",
    settings: WorkerSettings | None = None,
    functions: FunctionRegistry | None = None,
) -> Scheduler:
    """A scheduler whose HTTP jobs read `{{secret:NAME}}` from the vault (actor scheduler)."""
    vault = services.vault.with_actor("scheduler")
    runner = CommandRunner(
        services.engine, services.clock, functions or builtin_functions(), vault.get_secret
    )
    return Scheduler(
        services.engine,
        services.clock,
        runner,
        settings=settings,
        worker_id=new_worker_id(kind),
    )


def ensure_purge_job(services: Services) -> list[str]:
    """`avisa init` step: schedule the daily history purge unless a job of that name exists
    (an operator's changes to it are kept)."""
    jobs = cron_jobs(services)
    if jobs.jobs.get(PURGE_JOB_NAME) is not None:
        return []
    jobs.schedule(PURGE_JOB_NAME, PURGE_JOB_SCHEDULE, function_command(PURGE_FUNCTION, {}))
    return [f"scheduled the daily run history purge ({PURGE_JOB_NAME}, keeps 7 days)"]


async def run_until_signalled(scheduler: Scheduler) -> None:
    """Run `scheduler` until SIGINT or SIGTERM (what `avisa worker` does)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await scheduler.run(stop)


class SchedulerThread(LoopThread):
    """A scheduler on its own thread and event loop, beside uvicorn's (`avisa serve`).

    Its own loop keeps tick lateness independent of HTTP load on the server's loop.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        super().__init__("avisa-scheduler", scheduler.run, "cron_scheduler_thread_crashed")
        self.scheduler = scheduler

    def __repr__(self) -> str:
        return f"SchedulerThread({self.scheduler!r})"
