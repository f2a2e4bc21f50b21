"""The jobs API everyone uses (CLI, HTTP, `avisa init`): pg_cron's verbs, validated.

`schedule` creates or updates by name, as `cron.schedule` does; `alter` changes some
fields; `unschedule` deletes; `request_run` queues a manual run for any worker. Every
input is checked here, once, and refused with an `InvalidJobError` (or the schedule's
`ScheduleError`, the command's `InvalidCommandError`) that names what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from avisa.clock import Clock
from avisa.cron.commands import Command, FunctionCommand
from avisa.cron.functions import FunctionRegistry
from avisa.cron.model import DEFAULT_TIMEOUT, InvalidJobError, Job, Overlap, Run
from avisa.cron.runs import RunStore
from avisa.cron.schedule import Schedule, ScheduleError
from avisa.cron.schedule import parse_schedule as _parse_schedule
from avisa.cron.schedule import parse_timezone as _parse_timezone
from avisa.cron.store import JobStore
from avisa.errors import NotFoundError

MAX_TIMEOUT = timedelta(hours=24)
_NAME = re.compile(r"^[A-Za-z0-9_.:@-]+( [A-Za-z0-9_.:@-]+)*$")
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|min|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60, "h": 3600}


@dataclass(frozen=True)
class JobChanges:
    """Fields to change with `alter`; None leaves a field as it is."""

    schedule: str | None = None
    command: Command | None = None
    timezone: str | None = None
    overlap: Overlap | str | None = None
    timeout: timedelta | None = None
    active: bool | None = None


@dataclass(frozen=True)
class JobListing:
    """A job with what `cron list` shows next to it."""

    job: Job
    description: str
    last_run: Run | None


class CronJobs:
    """Create, change, list and run jobs. Stateless apart from its collaborators."""

    def __init__(self, jobs: JobStore, runs: RunStore, clock: Clock, functions: FunctionRegistry):
        self.jobs = jobs
        self.runs = runs
        self.clock = clock
        self.functions = functions

    def __repr__(self) -> str:
        return f"CronJobs({self.jobs!r})"

    def schedule(
        self,
        name: str,
        schedule: str,
        command: Command,
        *,
        timezone: str = "UTC",
        overlap: Overlap | str = Overlap.skip,
        timeout: timedelta = DEFAULT_TIMEOUT,
        active: bool = True,
    ) -> tuple[Job, bool]:
        """Create the job `name`, or update it if it exists (pg_cron's `cron.schedule`).

        Returns the job and whether it was created. Raises InvalidJobError, ScheduleError or
        InvalidCommandError for bad input (nothing is written then).
        """
        name = check_name(name)
        parsed = parse_schedule(schedule)
        zone = parse_timezone(timezone)
        policy = check_overlap(overlap)
        check_timeout(timeout)
        self._check_command(command)
        now = self.clock.now()
        next_run_at = parsed.next_after(now, zone) if active else None
        existing = self.jobs.get(name)
        if existing is None:
            job = self.jobs.insert(
                jobname=name,
                schedule=parsed.text,
                command=command,
                timezone=timezone,
                overlap=policy,
                timeout=timeout,
                active=active,
                next_run_at=next_run_at,
                now=now,
            )
            return job, True
        updated = self.jobs.update(
            existing.jobid,
            now,
            schedule=parsed.text,
            command=command,
            timezone=timezone,
            overlap=policy,
            timeout=timeout,
            active=active,
            next_run_at=next_run_at,
        )
        if updated is None:
            raise NotFoundError(f"job {name!r} was deleted while being updated")
        return updated, False

    def alter(self, name: str, changes: JobChanges) -> Job:
        """Change some fields of job `name`. A new schedule, time zone or activation
        recomputes the next run from now. Raises NotFoundError, or the errors of `schedule`."""
        job = self.get(name)
        values: dict[str, object] = {}
        schedule_text = job.schedule
        if changes.schedule is not None:
            schedule_text = parse_schedule(changes.schedule).text
            values["schedule"] = schedule_text
        timezone = job.timezone
        if changes.timezone is not None:
            parse_timezone(changes.timezone)
            timezone = values["timezone"] = changes.timezone
        if changes.overlap is not None:
            values["overlap"] = check_overlap(changes.overlap)
        if changes.timeout is not None:
            values["timeout"] = check_timeout(changes.timeout)
        if changes.command is not None:
            self._check_command(changes.command)
            values["command"] = changes.command
        active = job.active if changes.active is None else changes.active
        if changes.active is not None:
            values["active"] = active
        if not values:
            raise InvalidJobError("nothing to change: give at least one option")
        # Re-arm from now only when timing changed: a redundant --active keeps the next tick.
        retime = {"schedule", "timezone"} & set(values) or active != job.active
        if retime:
            values["next_run_at"] = (
                parse_schedule(schedule_text).next_after(self.clock.now(), parse_timezone(timezone))
                if active
                else None
            )
        updated = self.jobs.update(job.jobid, self.clock.now(), **values)
        if updated is None:
            raise NotFoundError(f"no job named {name!r}")
        return updated

    def unschedule(self, name: str) -> None:
        """Delete job `name` and its history. Raises NotFoundError if there is none."""
        if not self.jobs.delete(name):
            raise NotFoundError(f"no job named {name!r}", fix="see `avisa cron list`")

    def get(self, name: str) -> Job:
        job = self.jobs.get(name)
        if job is None:
            raise NotFoundError(f"no job named {name!r}", fix="see `avisa cron list`")
        return job

    def list_jobs(self) -> list[JobListing]:
        """Every job with its schedule in words and its latest run."""
        last = self.runs.last_runs()
        return [
            JobListing(job, parse_schedule(job.schedule).describe(), last.get(job.jobid))
            for job in self.jobs.all()
        ]

    def request_run(self, name: str) -> int:
        """Queue a manual run of job `name` for any worker; returns its runid."""
        job = self.get(name)
        runid = self.runs.request_manual(job, self.clock.now(), worker=None)
        self.jobs.notify_changed()
        return runid

    def _check_command(self, command: Command) -> None:
        if isinstance(command, FunctionCommand):
            try:
                self.functions.get(command.name)
            except NotFoundError as exc:
                raise InvalidJobError(str(exc)) from None


def check_name(name: str) -> str:
    """A job name: 1-200 characters, letters, digits, `_ . : @ -` and single inner spaces."""
    if not isinstance(name, str) or len(name) > 200 or not _NAME.match(name):
        shown = repr(name if len(str(name)) <= 40 else str(name)[:40] + "…")
        raise InvalidJobError(
            f"invalid job name {shown}: use up to 200 letters, digits, _ . : @ - "
            "(single spaces inside)"
        )
    return name


def check_overlap(value: Overlap | str) -> Overlap:
    try:
        return Overlap(value)
    except ValueError:
        raise InvalidJobError(f"invalid overlap {value!r}: use skip, queue or allow") from None


def check_timeout(value: timedelta) -> timedelta:
    if value < timedelta(seconds=1) or value > MAX_TIMEOUT or value.microseconds:
        raise InvalidJobError("invalid timeout: use whole seconds from 1 s to 24 h")
    return value


def parse_duration(text: str, *, label: str = "duration") -> timedelta:
    """`30s`, `5m`, `2h`, `1500ms` or bare seconds. Raises InvalidJobError naming `label`."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise InvalidJobError(f"invalid {label} {text!r}: use a positive duration like 30s, 5m, 1h")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_schedule(text: str) -> Schedule:
    """The schedule parser's verdict, as an InvalidJobError (HTTP 422) when it refuses."""
    try:
        return _parse_schedule(text)
    except ScheduleError as exc:
        raise InvalidJobError(str(exc)) from None


def parse_timezone(name: str) -> ZoneInfo:
    """The zone called `name`; InvalidJobError (HTTP 422) naming it when unknown."""
    try:
        return _parse_timezone(name)
    except ScheduleError as exc:
        raise InvalidJobError(str(exc)) from None
