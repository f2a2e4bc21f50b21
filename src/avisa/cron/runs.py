"""Run storage: `cron_job_run_details` rows, and the claims that decide who runs what.

The database decides who does a piece of work:

- a tick is claimed by inserting its run row, unique on (jobid, scheduled_for), with
  ON CONFLICT DO NOTHING: the worker whose insert landed runs it, nobody else;
- a queued run is claimed by a conditional UPDATE (`worker IS NULL`) whose row count must
  be 1, selected with FOR UPDATE SKIP LOCKED on PostgreSQL;
- the overlap check and the insert share one transaction that holds the job's row lock
  (FOR UPDATE on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers).

Each method is one transaction of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from avisa.cron.model import (
    ACTIVE_STATUSES,
    ClaimedRun,
    Job,
    Origin,
    Outcome,
    Overlap,
    Run,
    RunStatus,
)
from avisa.cron.store import job_from_row
from avisa.db.engine import is_sqlite
from avisa.db.tables import cron_job, cron_job_run_details, cron_worker

runs = cron_job_run_details
#: Queued runs of one job beyond this are recorded as skipped: a queue that only grows is a
#: job that can never catch up, and pg_cron's unbounded queue is one of its complaints.
MAX_QUEUED = 50
MESSAGE_LIMIT = 2000


class TickResult(StrEnum):
    """What claiming a tick did."""

    claimed = "claimed"  # our insert landed; we run it now
    queued = "queued"  # our insert landed as a queued run (overlap "queue")
    skipped = "skipped"  # our insert landed as a skipped run (overlap "skip", queue full)
    taken = "taken"  # another worker's insert landed first: nothing to do


@dataclass(frozen=True)
class TickClaim:
    result: TickResult
    run: ClaimedRun | None = None


class RunStore:
    """Reads and writes `cron_job_run_details`, on SQLite and PostgreSQL alike."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = not is_sqlite(engine)

    def __repr__(self) -> str:
        return f"RunStore({self.engine.dialect.name})"

    def claim_tick(
        self, job: Job, scheduled_for: datetime, worker: str, now: datetime
    ) -> TickClaim:
        """Claim the tick `scheduled_for` of `job` for `worker`, applying the overlap policy.

        Exactly once: only the worker whose insert of (jobid, scheduled_for) lands gets
        `claimed` (or `queued`/`skipped`); every other caller gets `taken`.
        """
        with self.engine.begin() as conn:
            if not self._lock_job(conn, job.jobid):
                return TickClaim(TickResult.taken)  # deleted meanwhile
            status, message = RunStatus.starting, None
            owner: str | None = worker
            result = TickResult.claimed
            if job.overlap is not Overlap.allow:
                busy = self._active_run(conn, job.jobid)
                if busy is not None and job.overlap is Overlap.skip:
                    status, owner, result = RunStatus.skipped, None, TickResult.skipped
                    message = f"skipped: run {busy} of this job was still running"
                elif busy is not None:
                    queued = self._count_queued(conn, job.jobid)
                    if queued >= MAX_QUEUED:
                        status, owner, result = RunStatus.skipped, None, TickResult.skipped
                        message = f"skipped: {queued} runs already queued behind run {busy}"
                    else:
                        owner, result = None, TickResult.queued
            runid = self._insert(
                conn,
                job.jobid,
                scheduled_for,
                Origin.schedule,
                status,
                owner,
                message,
                end_time=now if status is RunStatus.skipped else None,
            )
        if runid is None:
            return TickClaim(TickResult.taken)
        if result is TickResult.claimed:
            return TickClaim(result, ClaimedRun(runid, job, scheduled_for))
        return TickClaim(result)

    def record_missed(
        self, jobid: int, ticks: Sequence[tuple[datetime, str]], now: datetime
    ) -> int:
        """Record missed ticks as `skipped` with their reason; ticks already recorded (by
        anyone) are left alone. Returns how many rows this call inserted."""
        if not ticks:
            return 0
        rows = [
            {
                "jobid": jobid,
                "scheduled_for": tick,
                "origin": Origin.schedule.value,
                "status": RunStatus.skipped.value,
                "return_message": reason[:MESSAGE_LIMIT],
                "end_time": now,
            }
            for tick, reason in ticks
        ]
        insert = (
            self._insert_statement()
            .values(rows)
            .on_conflict_do_nothing(index_elements=["jobid", "scheduled_for"])
        )
        with self.engine.begin() as conn:
            return conn.execute(insert).rowcount

    def request_manual(self, job: Job, now: datetime, worker: str | None) -> int:
        """Insert a manual run of `job`: claimed by `worker`, or queued for any worker when
        `worker` is None. Manual runs ignore the overlap policy: someone asked for them."""
        # Ticks fall on whole seconds; a manual run never does, so it cannot take a tick's
        # (jobid, scheduled_for) key. Retry on the rare collision with another manual run.
        at = now if now.microsecond else now + timedelta(microseconds=1)
        with self.engine.begin() as conn:
            for _ in range(1000):
                runid = self._insert(conn, job.jobid, at, Origin.manual, RunStatus.starting, worker)
                if runid is not None:
                    return runid
                at += timedelta(microseconds=1 if at.microsecond < 999_999 else 2)
        raise RuntimeError("could not find a free instant for a manual run")

    def claim_queued(self, worker: str, limit: int = 20) -> list[ClaimedRun]:
        """Claim queued runs that may start now: manual ones at once; a `queue` job's
        oldest queued tick once none of its runs is running. Conditional UPDATE per run."""
        candidates = (
            sa.select(runs.c.runid, runs.c.jobid, runs.c.origin, runs.c.scheduled_for)
            .where(runs.c.status == RunStatus.starting.value, runs.c.worker.is_(None))
            .order_by(runs.c.scheduled_for)
            .limit(limit)
        )
        claimed: list[ClaimedRun] = []
        with self.engine.begin() as conn:
            if self.postgres:
                candidates = candidates.with_for_update(skip_locked=True, of=runs)
            rows = conn.execute(candidates).all()
            started_jobs: set[int] = set()
            for row in rows:
                if row.origin != Origin.manual.value:
                    if row.jobid in started_jobs:
                        continue  # one at a time: the next waits for this one to end
                    if not self._lock_job(conn, row.jobid) or self._active_run(conn, row.jobid):
                        continue
                count = conn.execute(
                    sa.update(runs)
                    .where(runs.c.runid == row.runid, runs.c.worker.is_(None))
                    .values(worker=worker)
                ).rowcount
                if count != 1:
                    continue
                started_jobs.add(row.jobid)
                job = _load_job(conn, row.jobid)
                if job is not None:
                    claimed.append(ClaimedRun(row.runid, job, row.scheduled_for))
        return claimed

    def mark_running(self, runid: int, worker: str, now: datetime) -> bool:
        """`starting` -> `running` with its start time; False if the run is no longer ours."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    sa.update(runs)
                    .where(
                        runs.c.runid == runid,
                        runs.c.worker == worker,
                        runs.c.status == RunStatus.starting.value,
                    )
                    .values(status=RunStatus.running.value, start_time=now)
                ).rowcount
                == 1
            )

    def finish(self, runid: int, worker: str, outcome: Outcome, now: datetime) -> bool:
        """End a run we own with its outcome. False when it was already ended by someone
        else (failed as "worker lost" during a long pause): that verdict stands."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    sa.update(runs)
                    .where(
                        runs.c.runid == runid,
                        runs.c.worker == worker,
                        runs.c.status.in_([s.value for s in ACTIVE_STATUSES]),
                    )
                    .values(
                        status=outcome.status.value,
                        return_message=outcome.message[:MESSAGE_LIMIT],
                        http_status=outcome.http_status,
                        end_time=now,
                        start_time=sa.func.coalesce(runs.c.start_time, now),
                    )
                ).rowcount
                == 1
            )

    def fail_lost(self, now: datetime, alive_since: datetime) -> int:
        """Fail every unfinished run whose worker has not heartbeated since `alive_since`
        (or has no row at all). Safe for every worker to call: one conditional UPDATE."""
        alive = sa.select(cron_worker.c.worker_id).where(cron_worker.c.heartbeat_at >= alive_since)
        with self.engine.begin() as conn:
            return conn.execute(
                sa.update(runs)
                .where(
                    runs.c.status.in_([s.value for s in ACTIVE_STATUSES]),
                    runs.c.worker.is_not(None),
                    runs.c.worker.not_in(alive),
                )
                .values(
                    status=RunStatus.failed.value,
                    return_message="worker lost: its worker stopped heartbeating mid-run",
                    end_time=now,
                )
            ).rowcount

    def purge(self, before: datetime, batch_size: int) -> int:
        """Delete ended runs scheduled before `before`, `batch_size` rows per transaction so
        that a large purge never holds a long lock. Returns how many were deleted."""
        total = 0
        while True:
            batch = (
                sa.select(runs.c.runid)
                .where(
                    runs.c.scheduled_for < before,
                    runs.c.status.not_in([s.value for s in ACTIVE_STATUSES]),
                )
                .order_by(runs.c.runid)
                .limit(batch_size)
            )
            with self.engine.begin() as conn:
                ids = list(conn.execute(batch).scalars())
                if ids:
                    conn.execute(sa.delete(runs).where(runs.c.runid.in_(ids)))
            total += len(ids)
            if len(ids) < batch_size:
                return total

    def get(self, runid: int) -> Run | None:
        with self.engine.connect() as conn:
            row = conn.execute(_run_query().where(runs.c.runid == runid)).first()
        return None if row is None else run_from_row(row._mapping)

    def find(
        self,
        *,
        jobid: int | None = None,
        since: datetime | None = None,
        status: RunStatus | None = None,
        before_runid: int | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs, newest first, filtered; `before_runid` pages backwards (a cursor)."""
        query = _run_query().order_by(runs.c.runid.desc()).limit(limit)
        if jobid is not None:
            query = query.where(runs.c.jobid == jobid)
        if since is not None:
            query = query.where(runs.c.scheduled_for >= since)
        if status is not None:
            query = query.where(runs.c.status == status.value)
        if before_runid is not None:
            query = query.where(runs.c.runid < before_runid)
        with self.engine.connect() as conn:
            return [run_from_row(row._mapping) for row in conn.execute(query)]

    def last_runs(self) -> dict[int, Run]:
        """The latest run of each job, keyed by jobid (for `cron list`)."""
        latest = sa.select(sa.func.max(runs.c.runid)).group_by(runs.c.jobid).scalar_subquery()
        query = _run_query().where(runs.c.runid.in_(latest))
        with self.engine.connect() as conn:
            found = [run_from_row(row._mapping) for row in conn.execute(query)]
        return {run.jobid: run for run in found}

    def _insert_statement(self) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(runs) if self.postgres else sqlite.insert(runs)

    def _insert(
        self,
        conn: Connection,
        jobid: int,
        scheduled_for: datetime,
        origin: Origin,
        status: RunStatus,
        worker: str | None,
        message: str | None = None,
        *,
        end_time: datetime | None = None,
    ) -> int | None:
        """INSERT … ON CONFLICT DO NOTHING RETURNING runid: the id, or None if taken."""
        statement = (
            self._insert_statement()
            .values(
                jobid=jobid,
                scheduled_for=scheduled_for,
                origin=origin.value,
                status=status.value,
                worker=worker,
                return_message=message,
                end_time=end_time,
            )
            .on_conflict_do_nothing(index_elements=["jobid", "scheduled_for"])
            .returning(runs.c.runid)
        )
        value = conn.execute(statement).scalar()
        return None if value is None else int(value)

    def _lock_job(self, conn: Connection, jobid: int) -> bool:
        query = sa.select(cron_job.c.jobid).where(cron_job.c.jobid == jobid)
        if self.postgres:
            query = query.with_for_update()
        return conn.execute(query).first() is not None

    def _active_run(self, conn: Connection, jobid: int) -> int | None:
        """The id of a run of `jobid` that is running or about to (queued ones excluded)."""
        query = sa.select(runs.c.runid).where(
            runs.c.jobid == jobid,
            runs.c.status.in_([s.value for s in ACTIVE_STATUSES]),
            runs.c.worker.is_not(None),
        )
        value = conn.execute(query.limit(1)).scalar()
        return None if value is None else int(value)

    def _count_queued(self, conn: Connection, jobid: int) -> int:
        query = sa.select(sa.func.count()).where(
            runs.c.jobid == jobid,
            runs.c.status == RunStatus.starting.value,
            runs.c.worker.is_(None),
        )
        return int(conn.execute(query).scalar_one())


def _run_query() -> sa.Select[tuple[object, ...]]:
    return sa.select(runs, cron_job.c.jobname).join(cron_job, cron_job.c.jobid == runs.c.jobid)


def _load_job(conn: Connection, jobid: int) -> Job | None:
    row = conn.execute(sa.select(cron_job).where(cron_job.c.jobid == jobid)).first()
    return None if row is None else job_from_row(row._mapping)


def run_from_row(row: RowMapping) -> Run:
    return Run(
        runid=int(row["runid"]),
        jobid=int(row["jobid"]),
        jobname=row["jobname"],
        scheduled_for=row["scheduled_for"],
        origin=Origin(row["origin"]),
        status=RunStatus(row["status"]),
        return_message=row["return_message"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        http_status=row["http_status"],
        worker=row["worker"],
    )
