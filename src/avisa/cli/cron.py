"""`avisa cron …` (pg_cron's verbs) and `avisa worker`.

Typer rejects what it can see in the command line itself (a missing argument, two command
kinds at once, a choice out of its list): usage errors, exit 2. Values avisa validates
(name, schedule, time zone, URL, JSON, durations) fail with one line and exit 1.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import typer

from avisa.cli.context import command_services, settings_for_command
from avisa.cli.output import echo_json, echo_table
from avisa.config import parse_offset
from avisa.cron.commands import (
    Command,
    describe_command,
    function_command,
    http_command,
    parse_header,
    parse_json_argument,
    sql_command,
)
from avisa.cron.execute import describe_duration
from avisa.cron.jobs import JobChanges, JobListing, parse_duration
from avisa.cron.model import DEFAULT_TIMEOUT, InvalidJobError, Overlap, Run, RunStatus
from avisa.cron.runtime import build_scheduler, cron_jobs, run_until_signalled
from avisa.cron.worker import WorkerSettings
from avisa.delivery.runtime import DeliveryThread, build_delivery_worker
from avisa.services import build_services

cron_app = typer.Typer(help="Scheduled jobs (pg_cron's model).", no_args_is_help=True)

# Options shared by `schedule` and `alter`: the command and its HTTP details.
SqlOpt = typer.Option(None, "--sql", help="Run this SQL statement in avisa's database.")
HttpOpt = typer.Option(None, "--http", help="Call this URL (may hold {{secret:NAME}}).")
MethodOpt = typer.Option(None, "--method", help="HTTP method (default POST).")
HeaderOpt = typer.Option(None, "--header", help="'Name: value' (repeatable; {{secret:NAME}}).")
BodyOpt = typer.Option(None, "--body", help="JSON body of the request.")
TimeoutMsOpt = typer.Option(None, "--timeout-ms", help="HTTP request timeout (default 5000).")
FunctionOpt = typer.Option(None, "--function", help="Call this registered function.")
ArgsOpt = typer.Option(None, "--args", help="JSON object of function arguments.")
TimezoneOpt = typer.Option(None, "--timezone", help="IANA zone the schedule is read in.")
OverlapOpt = typer.Option(None, "--overlap", help="What a tick during a run does.")
TimeoutOpt = typer.Option(None, "--timeout", help="Job timeout like 30s, 5m (default 5m).")
StatusOpt = typer.Option(None, "--status", help="Only runs in this status.")
HeartbeatOpt = typer.Option("5s", "--heartbeat", help="Heartbeat interval.")
LostAfterOpt = typer.Option("30s", "--lost-after", help="Fail runs of workers silent this long.")


def register(app: typer.Typer) -> None:
    app.add_typer(cron_app, name="cron")
    app.command("worker")(worker)


@cron_app.command("schedule")
def schedule(
    name: str = typer.Argument(..., metavar="NAME", help="Job name; an existing job is updated."),
    schedule_text: str = typer.Argument(..., metavar="SCHEDULE", help="Cron, 'N seconds', @daily."),
    sql: str | None = SqlOpt,
    http: str | None = HttpOpt,
    method: str | None = MethodOpt,
    header: list[str] | None = HeaderOpt,
    body: str | None = BodyOpt,
    timeout_ms: int | None = TimeoutMsOpt,
    function: str | None = FunctionOpt,
    args: str | None = ArgsOpt,
    timezone: str | None = TimezoneOpt,
    overlap: Overlap | None = OverlapOpt,
    timeout: str | None = TimeoutOpt,
) -> None:
    """Create or update job NAME (pg_cron's cron.schedule)."""
    command = _command(sql, http, method, header, body, timeout_ms, function, args, required=True)
    if command is None:  # required=True already refused this; here for the type checker
        raise typer.BadParameter("give the command: --sql, --http or --function")
    job_timeout = parse_duration(timeout, label="--timeout") if timeout else DEFAULT_TIMEOUT
    with command_services() as services:
        job, created = cron_jobs(services).schedule(
            name,
            schedule_text,
            command,
            timezone=timezone or "UTC",
            overlap=overlap or Overlap.skip,
            timeout=job_timeout,
        )
    verb = "scheduled" if created else "updated"
    typer.echo(f"{verb} job {job.jobname} (jobid {job.jobid}); next run {_when(job.next_run_at)}")


@cron_app.command("unschedule")
def unschedule(name: str = typer.Argument(..., metavar="NAME", help="Job name.")) -> None:
    """Delete job NAME and its run history."""
    with command_services() as services:
        cron_jobs(services).unschedule(name)
    typer.echo(f"unscheduled job {name}")


@cron_app.command("alter")
def alter(
    name: str = typer.Argument(..., metavar="NAME", help="Job name."),
    schedule_text: str | None = typer.Option(None, "--schedule", help="New schedule."),
    active: bool | None = typer.Option(None, "--active/--inactive", help="Resume or pause."),
    sql: str | None = SqlOpt,
    http: str | None = HttpOpt,
    method: str | None = MethodOpt,
    header: list[str] | None = HeaderOpt,
    body: str | None = BodyOpt,
    timeout_ms: int | None = TimeoutMsOpt,
    function: str | None = FunctionOpt,
    args: str | None = ArgsOpt,
    timezone: str | None = TimezoneOpt,
    overlap: Overlap | None = OverlapOpt,
    timeout: str | None = TimeoutOpt,
) -> None:
    """Change some fields of job NAME (pg_cron's cron.alter_job)."""
    command = _command(sql, http, method, header, body, timeout_ms, function, args, required=False)
    changes = JobChanges(
        schedule=schedule_text,
        command=command,
        timezone=timezone,
        overlap=overlap,
        timeout=parse_duration(timeout, label="--timeout") if timeout else None,
        active=active,
    )
    with command_services() as services:
        job = cron_jobs(services).alter(name, changes)
    state = "active" if job.active else "inactive"
    typer.echo(f"altered job {job.jobname}: {state}; next run {_when(job.next_run_at)}")


@cron_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Jobs with their schedule in words, next run and last status."""
    with command_services() as services:
        listings = cron_jobs(services).list_jobs()
    if as_json:
        echo_json([_listing_dict(item) for item in listings])
        return
    echo_table(
        ["job", "schedule", "when", "command", "zone", "overlap", "active", "next run", "last"],
        [
            [
                item.job.jobname,
                item.job.schedule,
                item.description,
                describe_command(item.job.command),
                item.job.timezone,
                item.job.overlap.value,
                "yes" if item.job.active else "no",
                _when(item.job.next_run_at),
                _last(item.last_run),
            ]
            for item in listings
        ],
        title="jobs",
    )


@cron_app.command("runs")
def runs(
    name: str | None = typer.Argument(None, metavar="NAME", help="Only this job's runs."),
    since: str = typer.Option("24h", "--since", help="How far back: 90m, 24h, 7d."),
    status: RunStatus | None = StatusOpt,
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Run history, newest first."""
    try:
        window = parse_offset(since)
    except ValueError as exc:
        raise InvalidJobError(f"invalid --since: {exc}") from None
    with command_services() as services:
        jobs = cron_jobs(services)
        jobid = jobs.get(name).jobid if name is not None else None
        found = jobs.runs.find(
            jobid=jobid,
            since=services.clock.now() - window,
            status=status,
            limit=limit,
        )
    if as_json:
        echo_json([run.to_dict() for run in found])
        return
    echo_table(
        ["run", "job", "scheduled for", "status", "took", "http", "message"],
        [
            [
                run.runid,
                run.jobname,
                _when(run.scheduled_for),
                run.status.value,
                _took(run.duration),
                run.http_status,
                _short(run.return_message),
            ]
            for run in found
        ],
        title="runs",
    )


@cron_app.command("run")
def run(name: str = typer.Argument(..., metavar="NAME", help="Job name.")) -> None:
    """Run job NAME now, here, and record it in the history like any run.

    Exits 1 when the run fails."""
    with command_services() as services:
        jobs = cron_jobs(services)
        job = jobs.get(name)
        result = asyncio.run(build_scheduler(services, kind="cli").run_now(job))
    typer.echo(f"run {result.runid} of {job.jobname}: {result.status.value}")
    if result.return_message:
        typer.echo(result.return_message)
    if result.status is not RunStatus.succeeded:
        raise typer.Exit(1)


def worker(
    heartbeat: str = HeartbeatOpt,
    lost_after: str = LostAfterOpt,
) -> None:
    """Run the scheduler and the delivery worker (no HTTP) until interrupted; start as
    many as you like."""
    beat = parse_duration(heartbeat, label="--heartbeat")
    lost = parse_duration(lost_after, label="--lost-after")
    if lost < beat * 2:
        raise InvalidJobError("--lost-after must be at least twice --heartbeat")
    services = build_services(settings_for_command())
    try:
        scheduler = build_scheduler(
            services,
            kind="worker",
            settings=WorkerSettings(heartbeat_interval=beat, lost_after=lost),
        )
        # Delivery on its own thread and loop, beside the scheduler's.
        delivery = DeliveryThread(build_delivery_worker(services))
        delivery.start()
        try:
            asyncio.run(run_until_signalled(scheduler))
        finally:
            delivery.stop()
    finally:
        services.close()


def _command(
    sql: str | None,
    http: str | None,
    method: str | None,
    headers: list[str] | None,
    body: str | None,
    timeout_ms: int | None,
    function: str | None,
    args: str | None,
    *,
    required: bool,
) -> Command | None:
    given = [
        flag
        for flag, value in (("--sql", sql), ("--http", http), ("--function", function))
        if value is not None
    ]
    if len(given) > 1:
        raise typer.BadParameter(f"give one command, not {' and '.join(given)}")
    if not given and required:
        raise typer.BadParameter("give the command: --sql, --http or --function")
    http_only = {
        "--method": method,
        "--header": headers,
        "--body": body,
        "--timeout-ms": timeout_ms,
    }
    for flag, value in http_only.items():
        if value is not None and value != [] and http is None:
            raise typer.BadParameter("goes with --http", param_hint=f"'{flag}'")
    if args is not None and function is None:
        raise typer.BadParameter("goes with --function", param_hint="'--args'")
    if sql is not None:
        return sql_command(sql)
    if http is not None:
        return http_command(
            http,
            method=method or "POST",
            headers=[parse_header(text) for text in headers or []],
            body=parse_json_argument("--body", body) if body is not None else None,
            timeout_ms=5000 if timeout_ms is None else timeout_ms,
        )
    if function is not None:
        parsed: Any = parse_json_argument("--args", args) if args is not None else {}
        if not isinstance(parsed, dict):
            raise InvalidJobError("--args: must be a JSON object, like '{\"keep_days\": 7}'")
        return function_command(function, parsed)
    return None


def _listing_dict(item: JobListing) -> dict[str, Any]:
    return {
        **item.job.to_dict(),
        "description": item.description,
        "last_run": item.last_run.to_dict() if item.last_run else None,
    }


def _when(instant: Any) -> str:
    return "-" if instant is None else instant.isoformat(timespec="seconds")


def _took(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    if duration < timedelta(seconds=10):
        return f"{round(duration.total_seconds() * 1000)} ms"
    return describe_duration(timedelta(seconds=round(duration.total_seconds())))


def _last(run: Run | None) -> str:
    if run is None:
        return "never"
    return f"{run.status.value} {_when(run.end_time or run.scheduled_for)}"


def _short(text: str | None, limit: int = 80) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
