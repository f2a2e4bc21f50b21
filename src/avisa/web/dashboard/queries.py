"""What the dashboard pages read. Each function is one or a few bounded queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.cron.history import run_from_row
from avisa.cron.model import Run
from avisa.db.tables import (
    alert_state,
    appointments,
    clients,
    cron_execution_logs,
    cron_job,
    cron_job_run_details,
    delivery_outbox,
    notifications,
)
from avisa.web.dashboard.sqltime import DAY, HOUR, bucket, bucket_start

runs = cron_job_run_details
_n = notifications.c
LIMIT = 200
RUN_STATUSES = ("succeeded", "failed", "skipped", "running", "starting")
CHANNELS = ("email", "sms", "whatsapp")


def find_runs(
    engine: Engine, now: datetime, *, job: str | None, status: str | None, hours: int
) -> list[Run]:
    """Runs scheduled in the last `hours`, failed ones first, then newest first."""
    failed_first = sa.case((runs.c.status == "failed", 0), else_=1)
    query = (
        sa.select(runs, cron_job.c.jobname)
        .join(cron_job, cron_job.c.jobid == runs.c.jobid)
        .where(runs.c.scheduled_for >= now - timedelta(hours=hours))
        .order_by(failed_first, runs.c.runid.desc())
        .limit(LIMIT)
    )
    if job:
        query = query.where(cron_job.c.jobname == job)
    if status:
        query = query.where(runs.c.status == status)
    with engine.connect() as conn:
        return [run_from_row(row._mapping) for row in conn.execute(query)]


def runs_per_hour(
    engine: Engine, now: datetime, hours: int = 24
) -> tuple[list[str], dict[str, list[int]]]:
    """Hour labels (UTC) and, per status, the runs scheduled in each of the last `hours`."""
    first = int(now.timestamp()) // HOUR - hours + 1
    hour = bucket(engine, runs.c.scheduled_for, HOUR)
    query = (
        sa.select(hour, runs.c.status, sa.func.count())
        .where(runs.c.scheduled_for >= bucket_start(first, HOUR))
        .group_by(hour, runs.c.status)
    )
    series = {status: [0] * hours for status in ("succeeded", "failed", "skipped")}
    with engine.connect() as conn:
        for index, status, count in conn.execute(query):
            if status in series and 0 <= index - first < hours:
                series[status][index - first] += int(count)
    labels = [f"{bucket_start(first + i, HOUR):%H}h" for i in range(hours)]
    return labels, series


def messages_per_day(
    engine: Engine, now: datetime, days: int = 14
) -> tuple[list[str], dict[str, list[int]]]:
    """Day labels (UTC) and, per channel, the notifications sent on each of the last `days`."""
    first = int(now.timestamp()) // DAY - days + 1
    start = bucket_start(first, DAY)
    day = bucket(engine, _n.sent_at, DAY)
    query = (
        sa.select(day, _n.channel, sa.func.count())
        .where(
            _n.status == "sent",
            # Through the (status, due_at) index: nothing is sent long before it is due.
            _n.due_at >= start - timedelta(days=2),
            _n.sent_at >= start,
        )
        .group_by(day, _n.channel)
    )
    series = {channel: [0] * days for channel in CHANNELS}
    with engine.connect() as conn:
        for index, channel, count in conn.execute(query):
            if channel in series and 0 <= index - first < days:
                series[channel][index - first] += int(count)
    labels = [f"{bucket_start(first + i, DAY):%d %b}" for i in range(days)]
    return labels, series


def failed_logs_since(engine: Engine, since: datetime) -> int:
    logs = cron_execution_logs
    query = sa.select(sa.func.count()).where(logs.c.status == "failed", logs.c.created_at >= since)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def notification_counts(engine: Engine, since: datetime) -> dict[str, dict[str, int]]:
    """{channel: {status: n}} for notifications due since `since` (and all upcoming)."""
    query = (
        sa.select(_n.channel, _n.status, sa.func.count())
        .where(_n.due_at >= since)
        .group_by(_n.channel, _n.status)
    )
    counts: dict[str, dict[str, int]] = {c: {} for c in CHANNELS}
    with engine.connect() as conn:
        for channel, status, count in conn.execute(query):
            counts.setdefault(channel, {})[status] = int(count)
    return counts


@dataclass(frozen=True)
class NotificationRow:
    id: int
    appointment_id: int
    client: str
    kind: str
    channel: str
    recipient: str
    status: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    reason: str | None
    last_error: str | None
    #: Set by the provider's delivery receipt (avisa.messaging).
    delivered_at: datetime | None = None


def _notification_query() -> sa.Select[Any]:
    return (
        sa.select(
            _n.id,
            _n.appointment_id,
            clients.c.name.label("client"),
            _n.kind,
            _n.channel,
            _n.recipient,
            _n.status,
            _n.due_at,
            _n.sent_at,
            _n.attempts,
            _n.reason,
            _n.last_error,
            _n.delivered_at,
        )
        .join(clients, clients.c.id == _n.client_id)
        .limit(50)
    )


def notification_lists(
    engine: Engine, now: datetime, *, channel: str | None, status: str | None
) -> dict[str, list[NotificationRow]]:
    """`upcoming` (waiting to be sent, soonest first), `recent` (sent, failed, skipped or
    cancelled, newest first) and `failures` (newest first)."""
    upcoming = _notification_query().where(_n.status.in_(["pending", "sending"]))
    recent = _notification_query().where(_n.due_at <= now, _n.status.not_in(["pending", "sending"]))
    failures = _notification_query().where(_n.status == "failed")
    if channel:
        upcoming, recent, failures = (
            q.where(_n.channel == channel) for q in (upcoming, recent, failures)
        )
    if status:
        recent = recent.where(_n.status == status)
    queries = {
        "upcoming": upcoming.order_by(_n.due_at, _n.id),
        "recent": recent.order_by(_n.due_at.desc(), _n.id.desc()),
        "failures": failures.order_by(_n.updated_at.desc()),
    }
    with engine.connect() as conn:
        return {
            name: [NotificationRow(**row._asdict()) for row in conn.execute(query)]
            for name, query in queries.items()
        }


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    what: str
    detail: str = ""
    tone: str = ""


def appointment_timeline(
    engine: Engine, appointment_id: int
) -> tuple[dict[str, Any], list[TimelineEvent]] | None:
    """The appointment (with its client's name) and its history, oldest first."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(appointments, clients.c.name.label("client_name"))
            .join(clients, clients.c.id == appointments.c.client_id)
            .where(appointments.c.id == appointment_id)
        ).first()
        if row is None:
            return None
        notes = conn.execute(
            sa.select(notifications).where(_n.appointment_id == appointment_id)
        ).all()
        outbox = conn.execute(
            sa.select(
                delivery_outbox.c.notification_id,
                delivery_outbox.c.created_at,
                delivery_outbox.c.note,
            )
            .join(notifications, notifications.c.id == delivery_outbox.c.notification_id)
            .where(_n.appointment_id == appointment_id)
        ).all()
    appointment = dict(row._mapping)
    events = [TimelineEvent(appointment["created_at"], "booked", appointment["service"])]
    for label, column in (
        ("confirmed", "confirmed_at"),
        ("cancelled", "cancelled_at"),
        ("completed", "completed_at"),
    ):
        if appointment[column] is not None:
            events.append(TimelineEvent(appointment[column], label))
    events.append(TimelineEvent(appointment["starts_at"], "starts", appointment["status"], "start"))
    for note in notes:
        name = f"{note.kind} by {note.channel}"
        events.append(
            TimelineEvent(note.created_at, f"{name} planned", f"due {note.due_at:%Y-%m-%d %H:%M}Z")
        )
        if note.sent_at is not None:
            events.append(TimelineEvent(note.sent_at, f"{name} sent", f"to {note.recipient}", "ok"))
        if note.delivered_at is not None:
            events.append(TimelineEvent(note.delivered_at, f"{name} delivered", "", "ok"))
        if note.status in ("failed", "skipped", "cancelled"):
            tone = "bad" if note.status == "failed" else "muted"
            detail = note.last_error or note.reason or ""
            events.append(TimelineEvent(note.updated_at, f"{name} {note.status}", detail, tone))
    for entry in outbox:
        events.append(
            TimelineEvent(
                entry.created_at,
                f"notification {entry.notification_id} recorded",
                entry.note,
                "muted",
            )
        )
    events.sort(key=lambda e: e.at)
    return appointment, events


def alert_states(engine: Engine) -> list[dict[str, Any]]:
    """Every alert subject, failing first."""
    query = sa.select(alert_state).order_by(
        sa.case((alert_state.c.state == "failing", 0), else_=1), alert_state.c.subject
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
