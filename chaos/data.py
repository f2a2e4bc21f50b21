"""What the scenarios put in the database, and the counts they read back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from bench.delivery import populate as delivery_rows
from sqlalchemy.engine import Engine

from avisa.db.tables import cron_execution_logs, notifications
from avisa.db.tables.cron import cron_job, cron_job_run_details

FINAL = ("sent", "failed", "cancelled", "skipped")


def utcnow() -> datetime:
    """The harness's wall clock (the processes under test use their own system clock)."""
    return datetime.now(UTC)


def populate(engine: Engine, count: int, *, spread: timedelta = timedelta(0)) -> None:
    """`count` clients, each with an appointment in three days (outside the hourly sweep's
    windows) and one SMS reminder, as the delivery benchmark makes them; the reminders fall
    due evenly from now over `spread`. One recipient per notification
    (`bench.delivery.recipient`), so the provider's log tells every duplicate."""
    delivery_rows(engine, count, utcnow(), start_in=timedelta(days=3), spread=spread)


def statuses(engine: Engine) -> Counter[str]:
    n = notifications.c
    with engine.connect() as conn:
        return Counter(
            dict(conn.execute(sa.select(n.status, sa.func.count()).group_by(n.status)).all())
        )


def attempts(engine: Engine) -> tuple[int, int]:
    """(total attempts, the most attempts of one notification)."""
    n = notifications.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.sum(n.attempts), sa.func.max(n.attempts))).one()
    return int(row[0] or 0), int(row[1] or 0)


def all_final(engine: Engine, count: int) -> bool:
    done = statuses(engine)
    return sum(done[s] for s in FINAL) >= count


@dataclass
class Ticks:
    """Runs of some `N seconds` jobs, checked against their schedules."""

    expected: int = 0
    succeeded: int = 0
    #: Ticks with no run row at all (a hole in a job's sequence).
    missing: int = 0
    #: Runs still `starting`/`running` after the jobs were stopped.
    stuck: int = 0
    #: Execution logs beyond the first for one run (a tick that ran twice).
    duplicates: int = 0
    #: Succeeded runs whose function left no execution log.
    unlogged: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    #: (scheduled_for, status, return message) of every run, oldest first.
    runs: list[tuple[datetime, str, str]] = field(default_factory=list)


def ticks(engine: Engine, jobs: dict[str, int]) -> Ticks:
    """Check the runs of `jobs` (name -> period in seconds)."""
    r, j, logs = cron_job_run_details.c, cron_job.c, cron_execution_logs.c
    report = Ticks()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(j.jobname, r.runid, r.scheduled_for, r.status, r.return_message)
            .join(cron_job, cron_job.c.jobid == r.jobid)
            .where(j.jobname.in_(list(jobs)), r.origin == "schedule")
            .order_by(r.scheduled_for)
        ).all()
        details = conn.execute(sa.select(logs.details).where(logs.job_name.in_(list(jobs)))).all()
    logged = Counter(d.details.get("run_id") for d in details if d.details.get("run_id"))
    report.duplicates = sum(c - 1 for c in logged.values() if c > 1)
    for name, period in jobs.items():
        mine = [row for row in rows if row.jobname == name]
        if not mine:
            continue
        first, last = mine[0].scheduled_for, mine[-1].scheduled_for
        report.expected += round((last - first).total_seconds() / period) + 1
        seen = {row.scheduled_for for row in mine}
        at = first
        while at <= last:
            report.missing += at not in seen
            at += timedelta(seconds=period)
    for row in rows:
        report.by_status[row.status] += 1
        report.runs.append((row.scheduled_for, row.status, row.return_message or ""))
        if row.status in ("starting", "running"):
            report.stuck += 1
        if row.status == "succeeded":
            if logged[row.runid]:
                report.succeeded += 1
            else:
                report.unlogged += 1
    report.runs.sort()
    return report
