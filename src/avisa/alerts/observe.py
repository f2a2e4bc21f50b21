"""What is failing now: each job's latest finished run, each job's latest execution log,
and the `verify` checklist. Reads only; a bounded window keeps every query cheap."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from avisa.alerts.rules import Observation
from avisa.db.tables import cron_execution_logs, cron_job, cron_job_run_details
from avisa.services import Services
from avisa.verify import verify

#: Only runs and logs this recent are looked at; an older state is kept as it was.
WINDOW = timedelta(hours=24)
JOB_PREFIX = "job:"
EXECUTION_PREFIX = "execution:"
VERIFY_SUBJECT = "verify"


def observe(services: Services, now: datetime) -> list[Observation]:
    """Observations for every job, every logging job and `verify`, at `now`."""
    seen = [*job_observations(services, now), *execution_observations(services, now)]
    seen.append(verify_observation(services))
    return seen


def job_observations(services: Services, now: datetime) -> list[Observation]:
    runs = cron_job_run_details
    latest = (
        sa.select(sa.func.max(runs.c.runid))
        .where(runs.c.status.in_(["succeeded", "failed"]), runs.c.scheduled_for >= now - WINDOW)
        .group_by(runs.c.jobid)
        .scalar_subquery()
    )
    query = sa.select(
        cron_job.c.jobname,
        runs.c.runid,
        runs.c.status,
        runs.c.http_status,
        runs.c.return_message,
    ).join(cron_job, cron_job.c.jobid == runs.c.jobid)
    with services.engine.connect() as conn:
        rows = conn.execute(query.where(runs.c.runid.in_(latest))).all()
    found = []
    for row in rows:
        failed = row.status == "failed"
        http = f" (HTTP {row.http_status})" if row.http_status else ""
        verdict = "failed" if failed else "succeeded"
        found.append(
            Observation(
                subject=f"{JOB_PREFIX}{row.jobname}",
                failing=failed,
                detail=f"run {row.runid} {verdict}{http}: {(row.return_message or '')[:300]}",
                marker=f"run:{row.runid}" if failed else None,
            )
        )
    return found


def execution_observations(services: Services, now: datetime) -> list[Observation]:
    logs = cron_execution_logs
    latest = (
        sa.select(sa.func.max(logs.c.id))
        .where(logs.c.created_at >= now - WINDOW)
        .group_by(logs.c.job_name)
        .scalar_subquery()
    )
    query = sa.select(logs.c.id, logs.c.job_name, logs.c.status, logs.c.message)
    with services.engine.connect() as conn:
        rows = conn.execute(query.where(logs.c.id.in_(latest))).all()
    return [
        Observation(
            subject=f"{EXECUTION_PREFIX}{row.job_name}",
            failing=row.status == "failed",
            detail=f"execution {row.id} {row.status}: {row.message[:300]}",
            marker=f"log:{row.id}" if row.status == "failed" else None,
        )
        for row in rows
    ]


def verify_observation(services: Services) -> Observation:
    failed = [check for check in verify(services) if check.failed]
    if not failed:
        return Observation(VERIFY_SUBJECT, False, "all checks pass")
    detail = "; ".join(f"{check.name}: {check.detail}" for check in failed)
    return Observation(VERIFY_SUBJECT, True, detail)


def existing_jobs(services: Services) -> set[str]:
    """Names of the jobs that exist now (a deleted job's alert state is dropped)."""
    with services.engine.connect() as conn:
        return set(conn.execute(sa.select(cron_job.c.jobname)).scalars())
