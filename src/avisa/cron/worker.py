"""The scheduler loop: sleep until the next tick, claim it, run it, record it.

Any number of these run against one database (`avisa worker`, `avisa serve`); none is
special. Each pass claims due ticks through the run store (exactly once per tick), starts
the claimed runs as tasks, heartbeats, and fails the runs of workers that went silent.
Between passes the loop sleeps until the earliest `next_run_at` or the next heartbeat,
woken early when jobs change. Time comes from the injected clock only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from avisa.clock import Clock
from avisa.cron.execute import CommandRunner
from avisa.cron.model import MISFIRE_GRACE, ClaimedRun, Job, Outcome, Overlap, Run
from avisa.cron.runs import RunStore
from avisa.cron.schedule import ScheduleError, parse_schedule, parse_timezone
from avisa.cron.store import JobStore, WorkerStore
from avisa.cron.ticks import TickPlan, plan_ticks
from avisa.cron.wakeup import SQLITE_POLL_INTERVAL, ChangeWatcher
from avisa.errors import NotFoundError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """Timings of a worker. Tests shrink them; the defaults suit production."""

    heartbeat_interval: timedelta = timedelta(seconds=5)
    #: A worker silent this long is lost: its unfinished runs are failed by the others.
    lost_after: timedelta = timedelta(seconds=30)
    misfire_grace: timedelta = MISFIRE_GRACE
    change_poll_interval: float = SQLITE_POLL_INTERVAL
    #: On stop, runs in flight get this long to finish before they are interrupted.
    shutdown_grace: float = 10.0
    #: Worker rows silent this long are deleted (their runs were failed long before).
    forget_after: timedelta = timedelta(hours=1)
    #: Ticks are claimed this long before they are due and started on the dot, so the
    #: database round trips of a claim do not delay the start.
    claim_ahead: timedelta = timedelta(milliseconds=100)


def new_worker_id(kind: str = "worker") -> str:
    """`host:pid:kind:random`: readable in run rows, unique across restarts."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{kind}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    """One worker's scheduling loop. `run(stop)` until `stop` is set."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        runner: CommandRunner,
        *,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.clock = clock
        self.runner = runner
        self.settings = settings or WorkerSettings()
        self.worker_id = worker_id or new_worker_id()
        self.jobs = JobStore(engine)
        self.runs = RunStore(engine)
        self.workers = WorkerStore(engine)
        self.engine = engine
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def __repr__(self) -> str:
        return f"Scheduler({self.worker_id!r})"

    async def run(self, stop: asyncio.Event) -> None:
        """Schedule until `stop` is set; then let runs finish (bounded) and unregister."""
        loop = asyncio.get_running_loop()
        watcher = ChangeWatcher(
            self.engine,
            lambda: _call_soon(loop, self._wake.set),
            poll_interval=self.settings.change_poll_interval,
        )
        watcher.start()
        log.info("cron_worker_started", worker=self.worker_id)
        # Beats run on a thread of their own: their writes never sit between a tick and
        # its start. The loop still wakes once per interval for queued runs freed by them.
        with contextlib.suppress(SQLAlchemyError):  # the loop reports a database that is down
            self.beat()  # registered before anything is claimed
        beating = loop.create_task(self._beat_forever())
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self.run_pending()
                    next_due = self.jobs.next_due_at()
                    wake_at = self.clock.now() + self.settings.heartbeat_interval
                    if next_due is not None:
                        wake_at = min(wake_at, next_due - self.settings.claim_ahead)
                    failures = 0
                except SQLAlchemyError as exc:
                    # The database is down or busy: keep the process, back off, retry.
                    failures += 1
                    log.warning(
                        "cron_worker_db_error", error_class=type(exc).__name__, attempt=failures
                    )
                    wake_at = self.clock.now() + timedelta(seconds=min(30, 2**failures))
                delay = (wake_at - self.clock.now()).total_seconds()
                await self._sleep(delay, stop)
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await watcher.stop()
            await self.shutdown()

    def run_pending(self) -> list[asyncio.Task[None]]:
        """One pass at the clock's now: claim due ticks and startable queued runs, and
        start a task for each run this worker won. Returns those tasks."""
        now = self.clock.now()
        horizon = now + self.settings.claim_ahead
        plans = [
            (job, plan)
            for job in self.jobs.due(horizon)
            if (plan := self._plan(job, horizon)) is not None
        ]
        claimed = self.runs.claim_due(plans, self.worker_id, now) if plans else []
        started = [self._start(run) for run in claimed]
        started += [self._start(run) for run in self.runs.claim_queued(self.worker_id, now)]
        return started

    def beat(self) -> None:
        """Heartbeat, then fail the runs of workers silent for longer than `lost_after`."""
        now = self.clock.now()
        self.workers.heartbeat(self.worker_id, socket.gethostname(), os.getpid(), now)
        lost = self.runs.fail_lost(now, now - self.settings.lost_after)
        if lost:
            log.warning("cron_runs_worker_lost", count=lost, worker=self.worker_id)
        self.workers.forget_stale(now - self.settings.forget_after)

    async def shutdown(self) -> None:
        """Give runs in flight `shutdown_grace` seconds, interrupt the rest, unregister."""
        if self._tasks:
            _done, pending = await asyncio.wait(
                list(self._tasks), timeout=self.settings.shutdown_grace
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.runner.aclose()
        try:
            self.workers.unregister(self.worker_id)
        except SQLAlchemyError as exc:
            log.warning("cron_worker_unregister_failed", error_class=type(exc).__name__)
        log.info("cron_worker_stopped", worker=self.worker_id)

    async def run_now(self, job: Job) -> Run:
        """Run `job` here and now as a manual run (what `avisa cron run` does), heartbeating
        meanwhile so that, if this process dies, another worker fails it as lost."""
        self.beat()
        runid = self.runs.request_manual(job, self.clock.now(), worker=self.worker_id)
        beating = asyncio.get_running_loop().create_task(self._beat_forever())
        try:
            await self._execute(ClaimedRun(runid, job, self.clock.now()))
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            await self.runner.aclose()
            self.workers.unregister(self.worker_id)
        run = self.runs.get(runid)
        if run is None:
            raise NotFoundError(f"job {job.jobname!r} was deleted while it ran")
        return run

    def _plan(self, job: Job, now: datetime) -> TickPlan | None:
        if job.next_run_at is None:
            return None  # due() selects only jobs with a next run; a concurrent alter
        try:
            schedule = parse_schedule(job.schedule)
            zone = parse_timezone(job.timezone)
        except ScheduleError as exc:
            # Only a hand-edited row gets here; stop it rather than spin on it.
            log.error("cron_job_deactivated", job=job.jobname, reason=str(exc))
            self.jobs.update(job.jobid, now, active=False, next_run_at=None)
            return None
        return plan_ticks(schedule, zone, job.next_run_at, now, self.settings.misfire_grace)

    def _start(self, claimed: ClaimedRun) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(
            self._execute(claimed), name=f"cron-run-{claimed.runid}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _execute(self, claimed: ClaimedRun) -> None:
        job = claimed.job
        # Claimed ahead of time: start on the dot (queued and manual runs are already due).
        early = (claimed.scheduled_for - self.clock.now()).total_seconds()
        if early > 0:
            await self.clock.sleep(early)
        started = self.clock.now()
        try:
            outcome = await self.runner.run(
                job.command, jobname=job.jobname, runid=claimed.runid, timeout=job.timeout
            )
        except asyncio.CancelledError:
            self.runs.finish(
                claimed.runid,
                self.worker_id,
                Outcome(False, "interrupted: the worker stopped before the run ended"),
                self.clock.now(),
                started=started,
            )
            raise
        except Exception as exc:
            log.exception("cron_run_crashed", job=job.jobname, runid=claimed.runid)
            outcome = Outcome(False, f"internal error: {type(exc).__name__}")
        ended = self.clock.now()
        if not await self._finish(claimed, outcome, ended, started):
            log.warning("cron_run_already_ended", job=job.jobname, runid=claimed.runid)
        log.info(
            "cron_run_finished",
            job=job.jobname,
            runid=claimed.runid,
            status=outcome.status.value,
            http_status=outcome.http_status,
            message=outcome.message,
        )
        if job.overlap is Overlap.queue:
            self._wake.set()  # a queued tick of this job may start now

    async def _finish(
        self, claimed: ClaimedRun, outcome: Outcome, ended: datetime, started: datetime
    ) -> bool:
        """Record the run's end. While the database is away, keep the outcome and try
        again with backoff: a run left `running` by a live worker would never be failed
        as lost, and with overlap `skip` would hold back every later tick of its job."""
        delay = 0.5
        while True:
            try:
                return self.runs.finish(
                    claimed.runid, self.worker_id, outcome, ended, started=started
                )
            except SQLAlchemyError as exc:
                log.warning(
                    "cron_run_finish_retry",
                    job=claimed.job.jobname,
                    runid=claimed.runid,
                    error_class=type(exc).__name__,
                    retry_in=delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval.total_seconds())
            try:
                await asyncio.to_thread(self.beat)
            except SQLAlchemyError as exc:
                log.warning("cron_heartbeat_failed", error_class=type(exc).__name__)

    async def _sleep(self, delay: float, stop: asyncio.Event) -> None:
        if delay <= 0 or self._wake.is_set():
            self._wake.clear()
            await asyncio.sleep(0)
            return
        waiters = [
            asyncio.ensure_future(self.clock.sleep(delay)),
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wake.clear()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Schedule `callback` on `loop` from any thread; a closed loop means we are stopping."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)
