"""Run history: reading `cron_job_run_details` (newest first, filtered, paged) and purging it.

The purge deletes in batches, each its own short transaction, so a large backlog never holds
a long lock; runs still going are never purged.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from avisa.cron.model import ACTIVE_STATUSES, Origin, Run, RunStatus
from avisa.db.tables import cron_job, cron_job_run_details

runs = cron_job_run_details


class RunHistory:
    """Queries over past and present runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __repr__(self) -> str:
        return f"RunHistory({self.engine.dialect.name})"

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


def _run_query() -> sa.Select[tuple[object, ...]]:
    return sa.select(runs, cron_job.c.jobname).join(cron_job, cron_job.c.jobid == runs.c.jobid)


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
