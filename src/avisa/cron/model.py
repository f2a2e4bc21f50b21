"""Value objects of the scheduler: jobs, runs, workers, and the outcome of one run.

Pure data: no database, no I/O. The store turns rows into these; the CLI and the API turn
these into text and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from avisa.cron.commands import Command, command_to_json, describe_command
from avisa.errors import AvisaError

#: A per-job timeout when none is given: pg_cron has none, five minutes bounds a stuck call.
DEFAULT_TIMEOUT = timedelta(minutes=5)
#: A missed tick older than this when a worker comes back is recorded as skipped, not run.
MISFIRE_GRACE = timedelta(minutes=5)


class InvalidJobError(AvisaError):
    """A job's name, schedule, command, time zone, overlap or timeout is invalid (HTTP 422)."""

    http_status = 422


class Overlap(StrEnum):
    """What happens to a tick that comes while the job's previous run is still going."""

    skip = "skip"
    queue = "queue"
    allow = "allow"


class RunStatus(StrEnum):
    """pg_cron's run statuses. `starting` without a worker is a queued run."""

    starting = "starting"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


#: Statuses of a run that has not ended.
ACTIVE_STATUSES = (RunStatus.starting, RunStatus.running)


class Origin(StrEnum):
    """Why a run exists: a tick of the schedule, or someone asked for it."""

    schedule = "schedule"
    manual = "manual"


@dataclass(frozen=True)
class Job:
    """A named scheduled command, as stored in `cron_job`."""

    jobid: int
    jobname: str
    schedule: str
    command: Command
    timezone: str
    overlap: Overlap
    timeout: timedelta
    active: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times ISO 8601 with offset). The command keeps `{{secret:…}}`."""
        return {
            "jobid": self.jobid,
            "jobname": self.jobname,
            "schedule": self.schedule,
            "command": command_to_json(self.command),
            "command_summary": describe_command(self.command),
            "timezone": self.timezone,
            "overlap": self.overlap.value,
            "timeout_seconds": int(self.timeout.total_seconds()),
            "active": self.active,
            "next_run_at": _iso(self.next_run_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True)
class Run:
    """One row of `cron_job_run_details`, with its job's name."""

    runid: int
    jobid: int
    jobname: str
    scheduled_for: datetime
    origin: Origin
    status: RunStatus
    return_message: str | None
    start_time: datetime | None
    end_time: datetime | None
    http_status: int | None
    worker: str | None

    @property
    def duration(self) -> timedelta | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        duration = self.duration
        return {
            "runid": self.runid,
            "jobid": self.jobid,
            "jobname": self.jobname,
            "scheduled_for": _iso(self.scheduled_for),
            "origin": self.origin.value,
            "status": self.status.value,
            "return_message": self.return_message,
            "start_time": _iso(self.start_time),
            "end_time": _iso(self.end_time),
            "duration_ms": None if duration is None else round(duration.total_seconds() * 1000),
            "http_status": self.http_status,
            "worker": self.worker,
        }


@dataclass(frozen=True)
class Outcome:
    """How a command ended. `message` is short and secret-free; the runner stores it."""

    succeeded: bool
    message: str
    http_status: int | None = None

    @property
    def status(self) -> RunStatus:
        return RunStatus.succeeded if self.succeeded else RunStatus.failed


@dataclass(frozen=True)
class ClaimedRun:
    """A run this worker owns and must execute: the insert (or claim) that made it landed."""

    runid: int
    job: Job
    scheduled_for: datetime


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()
