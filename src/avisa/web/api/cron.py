"""`/api/v1/cron/jobs` and `/api/v1/cron/runs`: the scheduler's admin API (service_role).

POST on `/jobs` creates or updates by name, as pg_cron's `cron.schedule` does. A run
requested with `POST /jobs/{name}/run` is queued for any worker (202) and shows up in
`/runs` like any other run. Commands are returned as stored: `{{secret:NAME}}` references,
never values.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from avisa.cron.commands import command_from_json
from avisa.cron.jobs import CronJobs, JobChanges, JobListing
from avisa.cron.model import DEFAULT_TIMEOUT, Overlap, Run, RunStatus
from avisa.cron.runtime import cron_jobs
from avisa.errors import NotFoundError
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep

router = APIRouter(prefix="/api/v1/cron", tags=["cron"])

CommandField = Annotated[
    dict[str, Any],
    Field(
        description='{"type": "sql", "sql": …} | {"type": "http", "url": …, "method": …, '
        '"headers": {…}, "body": …, "timeout_ms": …} | {"type": "function", "name": …, "args": {…}}'
    ),
]
TimeoutField = Annotated[int, Field(ge=1, le=86400, description="Job timeout in seconds.")]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    schedule: str = Field(min_length=1, max_length=200)
    command: CommandField
    timezone: str = "UTC"
    overlap: Overlap = Overlap.skip
    timeout_seconds: TimeoutField = int(DEFAULT_TIMEOUT.total_seconds())
    active: bool = True


class JobUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: str | None = Field(default=None, min_length=1, max_length=200)
    command: CommandField | None = None
    timezone: str | None = None
    overlap: Overlap | None = None
    timeout_seconds: TimeoutField | None = None
    active: bool | None = None


class RunPublic(BaseModel):
    runid: int
    jobid: int
    jobname: str
    scheduled_for: datetime
    origin: str
    status: RunStatus
    return_message: str | None
    start_time: datetime | None
    end_time: datetime | None
    duration_ms: int | None
    http_status: int | None
    worker: str | None

    @classmethod
    def of(cls, run: Run) -> RunPublic:
        return cls(**run.to_dict())


class JobPublic(BaseModel):
    jobid: int
    jobname: str
    schedule: str
    description: str
    command: dict[str, Any]
    command_summary: str
    timezone: str
    overlap: Overlap
    timeout_seconds: int
    active: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    last_run: RunPublic | None

    @classmethod
    def of(cls, listing: JobListing) -> JobPublic:
        last = RunPublic.of(listing.last_run) if listing.last_run else None
        return cls(**listing.job.to_dict(), description=listing.description, last_run=last)


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None = None


class RunList(BaseModel):
    items: list[RunPublic]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page."
    )


class RunRequested(BaseModel):
    runid: int
    status: RunStatus


def _listing(jobs: CronJobs, name: str) -> JobListing:
    for listing in jobs.list_jobs():
        if listing.job.jobname == name:
            return listing
    raise NotFoundError(f"no job named {name!r}")


@router.get("/jobs")
async def list_jobs(services: ServicesDep, _claims: ServiceRoleDep) -> JobList:
    """Every job, by name, with its schedule in words, next run and latest run."""
    listings = await asyncio.to_thread(cron_jobs(services).list_jobs)
    return JobList(items=[JobPublic.of(item) for item in listings])


@router.post("/jobs", responses={201: {"model": JobPublic}})
async def schedule_job(
    body: JobCreate, services: ServicesDep, _claims: ServiceRoleDep, response: Response
) -> JobPublic:
    """Create a job (201), or update the job of that name (200)."""
    jobs = cron_jobs(services)

    def work() -> JobListing:
        _job, created = jobs.schedule(
            body.name,
            body.schedule,
            command_from_json(body.command),
            timezone=body.timezone,
            overlap=body.overlap,
            timeout=timedelta(seconds=body.timeout_seconds),
            active=body.active,
        )
        response.status_code = 201 if created else 200
        return _listing(jobs, body.name)

    return JobPublic.of(await asyncio.to_thread(work))


@router.get("/jobs/{name}")
async def get_job(name: str, services: ServicesDep, _claims: ServiceRoleDep) -> JobPublic:
    return JobPublic.of(await asyncio.to_thread(_listing, cron_jobs(services), name))


@router.patch("/jobs/{name}")
async def alter_job(
    name: str, body: JobUpdate, services: ServicesDep, _claims: ServiceRoleDep
) -> JobPublic:
    """Change some fields; a new schedule, zone or activation recomputes the next run."""
    jobs = cron_jobs(services)
    changes = JobChanges(
        schedule=body.schedule,
        command=command_from_json(body.command) if body.command is not None else None,
        timezone=body.timezone,
        overlap=body.overlap,
        timeout=timedelta(seconds=body.timeout_seconds) if body.timeout_seconds else None,
        active=body.active,
    )

    def work() -> JobListing:
        jobs.alter(name, changes)
        return _listing(jobs, name)

    return JobPublic.of(await asyncio.to_thread(work))


@router.delete("/jobs/{name}", status_code=204)
async def unschedule_job(name: str, services: ServicesDep, _claims: ServiceRoleDep) -> Response:
    """Delete the job and its run history."""
    await asyncio.to_thread(cron_jobs(services).unschedule, name)
    return Response(status_code=204)


@router.post("/jobs/{name}/run", status_code=202)
async def run_job(name: str, services: ServicesDep, _claims: ServiceRoleDep) -> RunRequested:
    """Queue a run now for any worker; follow it in `/runs`."""
    runid = await asyncio.to_thread(cron_jobs(services).request_run, name)
    return RunRequested(runid=runid, status=RunStatus.starting)


@router.get("/runs")
async def list_runs(
    services: ServicesDep,
    _claims: ServiceRoleDep,
    job: Annotated[str | None, Query(description="Only this job's runs.")] = None,
    status: RunStatus | None = None,
    since: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> RunList:
    """Runs, newest first, filtered by job, status and scheduled time."""
    jobs = cron_jobs(services)

    def work() -> list[Run]:
        jobid = jobs.get(job).jobid if job is not None else None
        return jobs.runs.find(
            jobid=jobid,
            status=status,
            since=since,
            before_runid=int(cursor) if cursor else None,
            limit=limit,
        )

    found = await asyncio.to_thread(work)
    next_cursor = str(found[-1].runid) if len(found) == limit else None
    return RunList(items=[RunPublic.of(run) for run in found], next_cursor=next_cursor)


@router.get("/runs/{runid}")
async def get_run(runid: int, services: ServicesDep, _claims: ServiceRoleDep) -> RunPublic:
    run = await asyncio.to_thread(cron_jobs(services).runs.get, runid)
    if run is None:
        raise NotFoundError(f"no run {runid}")
    return RunPublic.of(run)
