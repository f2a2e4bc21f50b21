"""What the scenarios put in the database, and the counts they read back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables import appointments, clients, cron_execution_logs, notifications
from avisa.db.tables.cron import cron_job, cron_job_run_details

FINAL = ("sent", "failed", "cancelled", "skipped")


def utcnow() -> datetime:
    """The harness's wall clock (the processes under test use their own system clock)."""
    return datetime.now(UTC)


def recipient(i: int) -> str:
    return f"+346{i:08d}"


def populate(engine: Engine, count: int, *, spread: timedelta = timedelta(0)) -> None:
    """`count` clients, each with an appointment in three days and one SMS reminder; the
    reminders fall due evenly from now over `spread`. One recipient per notification, so
    the provider's log tells every duplicate."""
    now = utcnow()
    stamp = {"created_at": now, "updated_at": now}
    start = now + timedelta(days=3)
    rows = range(count)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(clients),
            [
                {
                    "id": i + 1,
                    "name": f"Cliente {i}",
                    "phone": recipient(i),
                    "locale": "es" if i % 2 else "en",
                    "timezone": "Europe/Madrid",
                    "channels": ["sms"],
                    "opt_out": [],
                    **stamp,
                }
                for i in rows
            ],
        )
        conn.execute(
            sa.insert(appointments),
            [
                {
                    "id": i + 1,
                    "client_id": i + 1,
                    "service": "Fisioterapia",
                    "location": "C/ Mayor 1",
                    "starts_at": start + timedelta(minutes=i),
                    "ends_at": start + timedelta(minutes=i + 45),
                    "timezone": "Europe/Madrid",
                    "status": "scheduled",
                    "total_amount": Decimal(40),
                    "paid_amount": Decimal(0),
                    "currency": "EUR",
                    **stamp,
                }
                for i in rows
            ],
        )
        conn.execute(
            sa.insert(notifications),
            [
                {
                    "appointment_id": i + 1,
                    "client_id": i + 1,
                    "kind": "reminder_24h",
                    "channel": "sms",
                    "recipient": recipient(i),
                    "status": "pending",
                    "due_at": now + spread * (i / max(1, count)),
                    "planned_start": start + timedelta(minutes=i),
                    "attempts": 0,
                    **stamp,
                }
                for i in rows
            ],
        )


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
