"""`avisa verify`: the operator's checklist of the original system, as one command.

It answers "does it all work?" and catches that system's real failure modes: a deleted or
renamed secret, a wrong key (the function answers 401, so the run fails), a disabled job,
a stopped scheduler. Every check reads the database as it is; none changes anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from avisa.checks import Check, fail, ok, warn
from avisa.cron.commands import HttpCommand, command_from_json
from avisa.db.tables.cron import cron_job, cron_job_run_details, cron_worker
from avisa.db.tables.functions import cron_execution_logs
from avisa.db.tables.instance import avisa_instance
from avisa.errors import AvisaError
from avisa.functions.setup import DEFAULT_JOBS
from avisa.services import Services
from avisa.vault.keys import SERVICE_ROLE_KEY

RECENT = timedelta(hours=24)
#: A worker heartbeats every 5 s; a minute of silence means no scheduler is running.
HEARTBEAT_FRESH = timedelta(seconds=60)
RECENT_LOGS = 10


def verify(services: Services) -> list[Check]:
    """Run the checklist at `services.clock.now()`; the caller decides the exit code."""
    now = services.clock.now()
    checks = [_service_key(services)]
    # Read the secret names before opening our connection: on SQLite every transaction
    # takes the write lock, so a second connection in this thread would wait for ours.
    secrets = {m.name for m in services.vault.list_secrets()}
    with services.engine.connect() as conn:
        jobs = {row.jobname: row for row in conn.execute(sa.select(cron_job))}
        checks.extend(_default_jobs(secrets, jobs))
        checks.extend(_recent_runs(conn, jobs, now))
        checks.append(_recent_logs(conn, now))
        checks.append(_heartbeat(conn, now))
    return checks


def _service_key(services: Services) -> Check:
    name = "service key"
    vault = services.vault.with_actor("system")
    try:
        token = vault.read_internal(SERVICE_ROLE_KEY)
        claims = services.service_keys.verify(token)
    except AvisaError as exc:
        return fail(
            name,
            f"{SERVICE_ROLE_KEY} is not usable: {exc.message}",
            fix=exc.fix or "restore the secret, or run `avisa init` to create it",
        )
    if claims.role != "service_role":
        return fail(name, f"{SERVICE_ROLE_KEY} holds a key of role {claims.role!r}")
    return ok(name, f"{SERVICE_ROLE_KEY} exists, decrypts and is a valid service_role key")


def _default_jobs(secrets: set[str], jobs: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for default in DEFAULT_JOBS:
        label = f"job {default.name}"
        row = jobs.get(default.name)
        if row is None:
            checks.append(fail(label, "missing", fix="run `avisa init` to schedule it again"))
            continue
        if not row.active:
            checks.append(fail(label, "inactive", fix=f"avisa cron alter {default.name} --active"))
            continue
        command = command_from_json(row.command)
        missing = (
            [n for n in command.secret_names() if n not in secrets]
            if isinstance(command, HttpCommand)
            else []
        )
        if missing:
            checks.append(
                fail(
                    label,
                    f"its command uses vault secret {', '.join(missing)}, which does not exist",
                    fix="restore or re-create the secret (`avisa vault list --all`)",
                )
            )
            continue
        checks.append(ok(label, f"active, {row.schedule}"))
    return checks


def _recent_runs(conn: Connection, jobs: dict[str, Any], now: datetime) -> list[Check]:
    installed = conn.execute(sa.select(avisa_instance.c.installed_at)).scalar()
    young = installed is not None and now - installed < RECENT
    checks: list[Check] = []
    for default in DEFAULT_JOBS:
        row = jobs.get(default.name)
        if row is None:
            continue
        label = f"runs of {default.name}"
        runs = cron_job_run_details
        finished = (
            sa.select(runs.c.status, runs.c.return_message, runs.c.http_status, runs.c.end_time)
            .where(
                runs.c.jobid == row.jobid,
                runs.c.status.in_(["succeeded", "failed"]),
                runs.c.end_time >= now - RECENT,
            )
            .order_by(runs.c.end_time.desc(), runs.c.runid.desc())
        )
        recent = conn.execute(finished.limit(1)).first()
        if recent is None:
            if young:
                checks.append(warn(label, "none yet; the installation is less than 24 h old"))
            else:
                checks.append(
                    fail(
                        label,
                        "no finished run in the last 24 h",
                        fix="start `avisa serve` or `avisa worker`, and check the job is active",
                    )
                )
            continue
        if recent.status == "failed":
            status = f" (HTTP {recent.http_status})" if recent.http_status else ""
            checks.append(
                fail(
                    label,
                    f"last run failed{status}: {(recent.return_message or '')[:160]}",
                    fix="see `avisa cron runs` and `avisa logs --failed`",
                )
            )
            continue
        checks.append(ok(label, f"last run succeeded at {recent.end_time:%Y-%m-%d %H:%M:%SZ}"))
    return checks


def _recent_logs(conn: Connection, now: datetime) -> Check:
    logs = cron_execution_logs
    rows = conn.execute(
        sa.select(logs.c.job_name, logs.c.status, logs.c.message)
        .where(logs.c.created_at >= now - RECENT)
        .order_by(logs.c.id.desc())
        .limit(RECENT_LOGS)
    ).all()
    if not rows:
        return warn("execution logs", "no function ran in the last 24 h")
    failed = [r for r in rows if r.status == "failed"]
    if failed:
        return fail(
            "execution logs",
            f"{len(failed)} of the last {len(rows)} failed; latest: {failed[0].job_name}: "
            f"{failed[0].message[:160]}",
            fix="see `avisa logs --failed`",
        )
    return ok("execution logs", f"the last {len(rows)} succeeded")


def _heartbeat(conn: Connection, now: datetime) -> Check:
    latest = conn.execute(sa.select(sa.func.max(cron_worker.c.heartbeat_at))).scalar()
    if latest is None:
        return fail("scheduler heartbeat", "no scheduler has ever run", fix="start `avisa serve`")
    age = now - latest
    if age > HEARTBEAT_FRESH:
        return fail(
            "scheduler heartbeat",
            f"last heartbeat {int(age.total_seconds())} s ago: no scheduler is running",
            fix="start `avisa serve` or `avisa worker`",
        )
    alive = conn.execute(
        sa.select(sa.func.count()).where(cron_worker.c.heartbeat_at >= now - HEARTBEAT_FRESH)
    ).scalar_one()
    return ok("scheduler heartbeat", f"{alive} scheduler(s) alive, last beat {age.seconds} s ago")
