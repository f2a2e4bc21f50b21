"""Storing plans: inserting planned notifications and cancelling stale ones.

The insert is keyed on (appointment, kind, channel, planned start) and is safe to repeat
or to race: an existing key is left alone, except a notification cancelled because its
appointment moved, which comes back to life when the appointment moves back to that time.
Functions take an open connection and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from avisa.db.tables import notifications
from avisa.domain.model import AppointmentRecord, Channel, NotificationRecord, NotificationStatus
from avisa.domain.planning import Plan
from avisa.domain.schemas import NotificationPublic
from avisa.domain.sql import cursor_id, decode_cursor, encode_cursor

PLAN_KEY = (
    notifications.c.appointment_id,
    notifications.c.kind,
    notifications.c.channel,
    notifications.c.planned_start,
)

_PENDING = NotificationStatus.pending.value


def upsert_planned(bind: sa.Connection) -> Insert:
    """INSERT of planned notifications that skips existing keys, reviving rescheduled ones.

    An appointment moved away from a time and back again must get its reminders for that
    time again; every other existing row (pending, sent, skipped, cancelled for another
    reason) is kept as it is, so planning twice never repeats a reminder.
    """
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(notifications)
    revived = ("recipient", "status", "due_at", "reason", "attempts", "updated_at")
    upsert: Insert = stmt.on_conflict_do_update(
        index_elements=list(PLAN_KEY),
        set_={name: stmt.excluded[name] for name in revived},
        where=sa.and_(
            notifications.c.status == NotificationStatus.cancelled.value,
            notifications.c.reason == "rescheduled",
        ),
    )
    return upsert


def apply_plan(
    conn: sa.Connection, appointment: AppointmentRecord, plan: Plan, now: datetime
) -> tuple[int, int]:
    """Store `plan` for `appointment`; returns (notifications planned, cancelled).

    Cancellation is conditional on the row still being pending, so a notification the
    delivery worker claimed meanwhile is not touched.
    """
    by_reason: dict[str, list[int]] = defaultdict(list)
    for cancellation in plan.cancel:
        by_reason[cancellation.reason.value].append(cancellation.notification_id)
    cancelled = 0
    for reason, ids in by_reason.items():
        cancelled += conn.execute(
            sa.update(notifications)
            .where(notifications.c.id.in_(ids), notifications.c.status == _PENDING)
            .values(status=NotificationStatus.cancelled.value, reason=reason, updated_at=now)
        ).rowcount
    rows = [
        {
            "appointment_id": appointment.id,
            "client_id": appointment.client_id,
            "kind": planned.kind,
            "channel": planned.channel.value,
            "recipient": planned.recipient,
            "status": planned.status.value,
            "due_at": planned.due_at,
            "planned_start": planned.planned_start,
            "reason": planned.reason.value if planned.reason else None,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        for planned in plan.create
    ]
    if rows:
        conn.execute(upsert_planned(conn), rows)
    return len(rows), cancelled


def notifications_of(conn: sa.Connection, appointment_id: int) -> list[NotificationRecord]:
    """Every notification of one appointment, oldest first."""
    query = (
        sa.select(notifications)
        .where(notifications.c.appointment_id == appointment_id)
        .order_by(notifications.c.id)
    )
    return [notification_record(r._mapping) for r in conn.execute(query)]


def list_notifications(
    conn: sa.Connection, appointment_id: int, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[NotificationRecord], str | None]:
    """One page of an appointment's notifications in id order, and the next page's cursor."""
    query = (
        sa.select(notifications)
        .where(notifications.c.appointment_id == appointment_id)
        .order_by(notifications.c.id)
        .limit(limit + 1)
    )
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(notifications.c.id > cursor_id(after))
    rows = [notification_record(r._mapping) for r in conn.execute(query)]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def notification_record(row: Any) -> NotificationRecord:
    """A `NotificationRecord` from a `notifications` row mapping."""
    return NotificationRecord(
        id=row["id"],
        appointment_id=row["appointment_id"],
        client_id=row["client_id"],
        kind=row["kind"],
        channel=Channel(row["channel"]),
        recipient=row["recipient"],
        status=NotificationStatus(row["status"]),
        due_at=row["due_at"],
        planned_start=row["planned_start"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        provider=row["provider"],
        provider_message_id=row["provider_message_id"],
        sent_at=row["sent_at"],
        delivered_at=row["delivered_at"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def notification_public(record: NotificationRecord, zone: str) -> NotificationPublic:
    """The API shape of a notification, its instants in the appointment's zone `zone`."""
    tz = ZoneInfo(zone)

    def local(instant: datetime | None) -> datetime | None:
        return instant.astimezone(tz) if instant is not None else None

    return NotificationPublic(
        id=record.id,
        appointment_id=record.appointment_id,
        kind=record.kind,
        channel=record.channel,
        recipient=record.recipient,
        status=record.status,
        due_at=record.due_at.astimezone(tz),
        planned_start=record.planned_start.astimezone(tz),
        attempts=record.attempts,
        reason=record.reason,
        last_error=record.last_error,
        provider_message_id=record.provider_message_id,
        sent_at=local(record.sent_at),
    )
