"""Job storage: `cron_job` rows, the "jobs changed" marker and the scheduler's worker rows.

Each method is one short transaction of its own: the store is the scheduler's connector to
the database, and every write that other workers must see atomically (an upsert and its
change marker, a compare-and-set of `next_run_at`) happens inside one method. Dialect
differences (row locks, NOTIFY) sit behind `self.postgres`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping

from avisa.cron.commands import Command, command_from_json, command_to_json
from avisa.cron.model import Job, Overlap
from avisa.db.engine import is_sqlite
from avisa.db.tables import cron_job, cron_state, cron_worker
from avisa.errors import ConflictError

#: The PostgreSQL channel a worker LISTENs on; every job change NOTIFYs it.
JOBS_CHANNEL = "avisa_cron_jobs"


class JobStore:
    """Reads and writes `cron_job`, on SQLite and PostgreSQL alike."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = not is_sqlite(engine)

    def __repr__(self) -> str:
        return f"JobStore({self.engine.dialect.name})"

    def get(self, jobname: str) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cron_job).where(cron_job.c.jobname == jobname)).first()
        return None if row is None else job_from_row(row._mapping)

    def get_by_id(self, jobid: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cron_job).where(cron_job.c.jobid == jobid)).first()
        return None if row is None else job_from_row(row._mapping)

    def all(self) -> list[Job]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(cron_job).order_by(cron_job.c.jobname)).all()
        return [job_from_row(row._mapping) for row in rows]

    def insert(
        self,
        *,
        jobname: str,
        schedule: str,
        command: Command,
        timezone: str,
        overlap: Overlap,
        timeout: timedelta,
        active: bool,
        next_run_at: datetime | None,
        now: datetime,
    ) -> Job:
        """Create a job. Raises ConflictError when the name is taken (a concurrent create)."""
        values = {
            "jobname": jobname,
            "schedule": schedule,
            "command": command_to_json(command),
            "timezone": timezone,
            "overlap": overlap.value,
            "timeout_seconds": int(timeout.total_seconds()),
            "active": active,
            "next_run_at": next_run_at,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.engine.begin() as conn:
                row = conn.execute(sa.insert(cron_job).values(values).returning(*cron_job.c)).one()
                self._changed(conn)
        except sa.exc.IntegrityError:
            raise ConflictError(
                f"a job named {jobname!r} was just created by someone else"
            ) from None
        return job_from_row(row._mapping)

    def update(self, jobid: int, now: datetime, **changes: Any) -> Job | None:
        """Apply `changes` (column names of `cron_job`; `command` as a Command, `overlap` as
        an Overlap, `timeout` as a timedelta). Returns the job, or None if it is gone."""
        values: dict[str, Any] = {"updated_at": now}
        for key, value in changes.items():
            if key == "command":
                values["command"] = command_to_json(value)
            elif key == "overlap":
                values["overlap"] = Overlap(value).value
            elif key == "timeout":
                values["timeout_seconds"] = int(value.total_seconds())
            else:
                values[key] = value
        with self.engine.begin() as conn:
            count = conn.execute(
                sa.update(cron_job).where(cron_job.c.jobid == jobid).values(values)
            ).rowcount
            if count:
                self._changed(conn)
        return self.get_by_id(jobid) if count else None

    def delete(self, jobname: str) -> bool:
        """Delete a job and (by cascade) its run history. False if there was no such job."""
        with self.engine.begin() as conn:
            count = conn.execute(sa.delete(cron_job).where(cron_job.c.jobname == jobname)).rowcount
            if count:
                self._changed(conn)
        return bool(count)

    def due(self, now: datetime) -> list[Job]:
        """Active jobs whose next tick is at or before `now`."""
        query = (
            sa.select(cron_job)
            .where(cron_job.c.active.is_(True), cron_job.c.next_run_at <= now)
            .order_by(cron_job.c.next_run_at)
        )
        with self.engine.connect() as conn:
            return [job_from_row(row._mapping) for row in conn.execute(query)]

    def next_due_at(self) -> datetime | None:
        """The earliest `next_run_at` of any active job, for the worker's computed sleep."""
        query = sa.select(sa.func.min(cron_job.c.next_run_at)).where(cron_job.c.active.is_(True))
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return _as_instant(value)

    def version(self) -> int:
        """The jobs-changed marker: any change to any job makes it larger."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(cron_state.c.jobs_version)).scalar()
        return int(value or 0)

    def notify_changed(self) -> None:
        """Wake the workers without changing a job (a run was requested)."""
        with self.engine.begin() as conn:
            self._changed(conn)

    def _changed(self, conn: Connection) -> None:
        bumped = conn.execute(
            sa.update(cron_state)
            .where(cron_state.c.id == 1)
            .values(jobs_version=cron_state.c.jobs_version + 1)
        ).rowcount
        if not bumped:
            conn.execute(sa.insert(cron_state).values(id=1, jobs_version=1))
        if self.postgres:
            # Delivered at commit, so a woken worker reads the committed change.
            conn.execute(sa.select(sa.func.pg_notify(JOBS_CHANNEL, "")))


class WorkerStore:
    """`cron_worker`: who is alive. Heartbeats make "worker lost" decidable by anyone."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"WorkerStore({self.engine.dialect.name})"

    def heartbeat(self, worker_id: str, hostname: str, pid: int, now: datetime) -> None:
        """Record that `worker_id` is alive at `now`, registering it if its row is missing
        (first beat, or another worker purged it after a long pause)."""
        with self.engine.begin() as conn:
            count = conn.execute(
                sa.update(cron_worker)
                .where(cron_worker.c.worker_id == worker_id)
                .values(heartbeat_at=now)
            ).rowcount
            if not count:
                conn.execute(
                    sa.insert(cron_worker).values(
                        worker_id=worker_id,
                        hostname=hostname[:255],
                        pid=pid,
                        started_at=now,
                        heartbeat_at=now,
                    )
                )

    def unregister(self, worker_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(cron_worker).where(cron_worker.c.worker_id == worker_id))

    def forget_stale(self, before: datetime) -> int:
        """Delete rows of workers silent since `before`; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(
                sa.delete(cron_worker).where(cron_worker.c.heartbeat_at < before)
            ).rowcount

    def latest_heartbeat(self) -> datetime | None:
        """The freshest heartbeat of any worker (what `avisa verify` checks)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(cron_worker.c.heartbeat_at))).scalar()
        return _as_instant(value)

    def live(self, since: datetime) -> list[str]:
        """Ids of workers that heartbeated at or after `since`."""
        query = sa.select(cron_worker.c.worker_id).where(cron_worker.c.heartbeat_at >= since)
        with self.engine.connect() as conn:
            return [str(value) for value in conn.execute(query).scalars()]


def job_from_row(row: RowMapping) -> Job:
    """A `cron_job` row as a Job. Raises InvalidCommandError if the stored command is bad."""
    return Job(
        jobid=row["jobid"],
        jobname=row["jobname"],
        schedule=row["schedule"],
        command=command_from_json(row["command"]),
        timezone=row["timezone"],
        overlap=Overlap(row["overlap"]),
        timeout=timedelta(seconds=row["timeout_seconds"]),
        active=bool(row["active"]),
        next_run_at=row["next_run_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def jobs_by_id(jobs: Iterable[Job]) -> dict[int, Job]:
    return {job.jobid: job for job in jobs}


def _as_instant(value: object) -> datetime | None:
    # min()/max() keep the column's type, so UTCDateTime has already made this aware UTC.
    if value is None or isinstance(value, datetime):
        return value
    raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
