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
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from avisa.cron.history import RunHistory
from avisa.cron.model import (
    ACTIVE_STATUSES,
    ClaimedRun,
    Job,
    Origin,
    Outcome,
    Overlap,
    RunStatus,
)
from avisa.cron.store import job_from_row
from avisa.cron.ticks import TickPlan
from avisa.db.engine import is_sqlite
from avisa.db.tables import cron_job, cron_job_run_details, cron_worker
from avisa.db.types import UTCDateTime

runs = cron_job_run_details
#: Queued runs of one job beyond this are recorded as skipped: a queue that only grows is a
#: job that can never catch up, and pg_cron's unbounded queue is one of its complaints.
MAX_QUEUED = 50
MESSAGE_LIMIT = 2000


class RunStore(RunHistory):
    """Claims and run lifecycle on `cron_job_run_details`, on SQLite and PostgreSQL alike;
    reading and purging history comes from `RunHistory`."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.postgres = not is_sqlite(engine)

    def __repr__(self) -> str:
        return f"RunStore({self.engine.dialect.name})"

    def claim_due(
        self, plans: Sequence[tuple[Job, TickPlan]], worker: str, now: datetime
    ) -> list[ClaimedRun]:
        """Apply the tick plans of due jobs in one transaction: record missed ticks, claim
        the tick to run (overlap policy applied), and move each job's `next_run_at` on.

        Exactly once: a tick is ours only if our insert of (jobid, scheduled_for) landed;
        a worker that loses the race gets nothing for it. Returns the runs we now own,
        already `running` with their start time (we start them at once). A handful of
        set-wise statements whatever the number of jobs: this is on every tick's path.
        """
        with self.engine.begin() as conn:
            present = self._lock_jobs(conn, [job.jobid for job, _ in plans])
            live = [(job, plan) for job, plan in plans if job.jobid in present]
            checked = [
                job.jobid for job, plan in live if plan.run and job.overlap is not Overlap.allow
            ]
            busy = self._active_runs(conn, checked)
            rows: list[dict[str, object]] = []
            for job, plan in live:
                rows.extend(_missed_rows(job.jobid, plan.missed, now))
                if plan.run is not None:
                    rows.append(
                        self._tick_row(conn, job, plan.run, busy.get(job.jobid), worker, now)
                    )
            inserted = self._insert_rows(conn, rows) if rows else {}
            jobs = {job.jobid: job for job, _ in live}
            claimed = [
                ClaimedRun(runid, jobs[jobid], tick)
                for (jobid, tick), (runid, status) in inserted.items()
                if status == RunStatus.running.value
            ]
            if live:
                conn.execute(
                    _ADVANCE,
                    [
                        {
                            "b_jobid": job.jobid,
                            "b_expected": job.next_run_at,
                            "b_next": plan.next_run_at,
                        }
                        for job, plan in live
                    ],
                )
        return claimed

    def _tick_row(
        self,
        conn: Connection,
        job: Job,
        tick: datetime,
        busy: int | None,
        worker: str,
        now: datetime,
    ) -> dict[str, object]:
        """The run row for a tick we try to claim, with the overlap policy applied."""
        row: dict[str, object] = {
            "jobid": job.jobid,
            "scheduled_for": tick,
            "origin": Origin.schedule.value,
            "status": RunStatus.running.value,
            "worker": worker,
            # When it will start: on the dot, or now if the tick is already past.
            "start_time": max(tick, now),
            "return_message": None,
            "end_time": None,
        }
        if busy is None or job.overlap is Overlap.allow:
            return row
        if job.overlap is Overlap.queue:
            queued = self._count_queued(conn, job.jobid)
            if queued < MAX_QUEUED:
                return {
                    **row,
                    "status": RunStatus.starting.value,
                    "worker": None,
                    "start_time": None,
                }
            message = f"skipped: {queued} runs already queued behind run {busy}"
        else:
            message = f"skipped: run {busy} of this job was still running"
        return {
            **row,
            "status": RunStatus.skipped.value,
            "worker": None,
            "start_time": None,
            "return_message": message,
            "end_time": now,
        }

    def _insert_rows(
        self, conn: Connection, rows: list[dict[str, object]]
    ) -> dict[tuple[int, datetime], tuple[int, str]]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: {(jobid, tick): (runid, status)} of
        the rows that landed (ours); rows someone else inserted first are absent."""
        statement = (
            self._insert_statement()
            .values(rows)
            .on_conflict_do_nothing(index_elements=["jobid", "scheduled_for"])
            .returning(runs.c.runid, runs.c.jobid, runs.c.scheduled_for, runs.c.status)
        )
        return {
            (int(row.jobid), row.scheduled_for): (int(row.runid), str(row.status))
            for row in conn.execute(statement)
        }

    def request_manual(self, job: Job, now: datetime, worker: str | None) -> int:
        """Insert a manual run of `job`: claimed by `worker`, or queued for any worker when
        `worker` is None. Manual runs ignore the overlap policy: someone asked for them."""
        # Ticks fall on whole seconds; a manual run never does, so it cannot take a tick's
        # (jobid, scheduled_for) key. Retry on the rare collision with another manual run.
        at = now if now.microsecond else now + timedelta(microseconds=1)
        with self.engine.begin() as conn:
            for _ in range(1000):
                status = RunStatus.starting if worker is None else RunStatus.running
                start = now if worker is not None else None
                runid = self._insert(
                    conn, job.jobid, at, Origin.manual, status, worker, start_time=start
                )
                if runid is not None:
                    return runid
                at += timedelta(microseconds=1 if at.microsecond < 999_999 else 2)
        raise RuntimeError("could not find a free instant for a manual run")

    def claim_queued(self, worker: str, now: datetime, limit: int = 20) -> list[ClaimedRun]:
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
            # All job rows at once, in jobid order: two workers never wait on each other.
            present = self._lock_jobs(
                conn, [row.jobid for row in rows if row.origin != Origin.manual.value]
            )
            started_jobs: set[int] = set()
            for row in rows:
                if row.origin != Origin.manual.value:
                    if row.jobid in started_jobs:
                        continue  # one at a time: the next waits for this one to end
                    if row.jobid not in present or self._active_run(conn, row.jobid):
                        continue
                count = conn.execute(
                    sa.update(runs)
                    .where(runs.c.runid == row.runid, runs.c.worker.is_(None))
                    .values(worker=worker, status=RunStatus.running.value, start_time=now)
                ).rowcount
                if count != 1:
                    continue
                started_jobs.add(row.jobid)
                job = _load_job(conn, row.jobid)
                if job is not None:
                    claimed.append(ClaimedRun(row.runid, job, row.scheduled_for))
        return claimed

    def finish(
        self,
        runid: int,
        worker: str,
        outcome: Outcome,
        now: datetime,
        *,
        started: datetime | None = None,
    ) -> bool:
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
                        # The measured start replaces the planned one set at claim time.
                        start_time=started or sa.func.coalesce(runs.c.start_time, now),
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
        start_time: datetime | None = None,
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
                start_time=start_time,
                end_time=end_time,
            )
            .on_conflict_do_nothing(index_elements=["jobid", "scheduled_for"])
            .returning(runs.c.runid)
        )
        value = conn.execute(statement).scalar()
        return None if value is None else int(value)

    def _lock_jobs(self, conn: Connection, jobids: Sequence[int]) -> set[int]:
        """Which of `jobids` still exist, their rows locked on PostgreSQL (in jobid order,
        so that concurrent workers never deadlock); SQLite's BEGIN IMMEDIATE already holds
        the database's write lock."""
        if not jobids:
            return set()
        query = (
            sa.select(cron_job.c.jobid)
            .where(cron_job.c.jobid.in_(sorted(set(jobids))))
            .order_by(cron_job.c.jobid)
        )
        if self.postgres:
            query = query.with_for_update()
        return {int(value) for value in conn.execute(query).scalars()}

    def _active_run(self, conn: Connection, jobid: int) -> int | None:
        return self._active_runs(conn, [jobid]).get(jobid)

    def _active_runs(self, conn: Connection, jobids: Sequence[int]) -> dict[int, int]:
        """For each of `jobids` with a run going (queued ones excluded): one such runid."""
        if not jobids:
            return {}
        query = (
            sa.select(runs.c.jobid, sa.func.min(runs.c.runid))
            .where(
                runs.c.jobid.in_(list(jobids)),
                runs.c.status.in_([s.value for s in ACTIVE_STATUSES]),
                runs.c.worker.is_not(None),
            )
            .group_by(runs.c.jobid)
        )
        return {int(jobid): int(runid) for jobid, runid in conn.execute(query)}

    def _count_queued(self, conn: Connection, jobid: int) -> int:
        query = sa.select(sa.func.count()).where(
            runs.c.jobid == jobid,
            runs.c.status == RunStatus.starting.value,
            runs.c.worker.is_(None),
        )
        return int(conn.execute(query).scalar_one())


#: Compare-and-set of a job's `next_run_at`, executed for many jobs at once. Losing (another
#: worker advanced it, or an alter recomputed it) is fine: ticks are claimed by run rows.
_ADVANCE = (
    sa.update(cron_job)
    .where(
        cron_job.c.jobid == sa.bindparam("b_jobid"),
        cron_job.c.next_run_at == sa.bindparam("b_expected", type_=UTCDateTime()),
    )
    .values(next_run_at=sa.bindparam("b_next", type_=UTCDateTime()))
)


def _missed_rows(
    jobid: int, ticks: Sequence[tuple[datetime, str]], now: datetime
) -> list[dict[str, object]]:
    return [
        {
            "jobid": jobid,
            "scheduled_for": tick,
            "origin": Origin.schedule.value,
            "status": RunStatus.skipped.value,
            "worker": None,
            "start_time": None,
            "return_message": reason[:MESSAGE_LIMIT],
            "end_time": now,
        }
        for tick, reason in ticks
    ]


def _load_job(conn: Connection, jobid: int) -> Job | None:
    row = conn.execute(sa.select(cron_job).where(cron_job.c.jobid == jobid)).first()
    return None if row is None else job_from_row(row._mapping)
