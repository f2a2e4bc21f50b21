"""`process_reminders`: the sweep that plans every reminder falling due soon, in SQL.

The planning rules of `avisa.domain.planning`, written as one INSERT … SELECT over
appointments, their client and that client's channels (one SELECT per reminder kind), with
"on conflict do nothing" on the notifications key: rows planned at booking time, by an
earlier sweep or by
a sweep running at the same moment are left alone, so several sweeps at once are safe and
the database decides who plans what. Before planning, pending notifications that no longer
apply (appointment cancelled, completed, no-show, or moved) are cancelled in one UPDATE.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import utc
from avisa.config import Settings
from avisa.db.tables import appointments, clients, notifications
from avisa.domain.model import OPEN_STATUSES, Channel, NotificationStatus, Reason, ReminderKind
from avisa.domain.notifications import PLAN_KEY
from avisa.domain.planning import reminder_kinds
from avisa.domain.sql import insert_or_skip, json_list_has, shifted

SKIP_REASONS = (Reason.superseded, Reason.too_late, Reason.opted_out)
CANCEL_REASONS = (Reason.rescheduled, Reason.cancelled, Reason.completed, Reason.no_show)
_OPEN = sorted(s.value for s in OPEN_STATUSES)
_PENDING = NotificationStatus.pending.value
_SKIPPED = NotificationStatus.skipped.value


@dataclass(frozen=True)
class ReminderSummary:
    """What one sweep did: reminders planned, skipped by reason, cancelled by reason."""

    now: datetime
    horizon_until: datetime
    planned: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    cancelled: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts; every known reason is present, zero when nothing happened."""
        return {
            "planned": self.planned,
            "skipped": {r.value: self.skipped.get(r.value, 0) for r in SKIP_REASONS},
            "cancelled": {r.value: self.cancelled.get(r.value, 0) for r in CANCEL_REASONS},
            "now": self.now.isoformat(),
            "horizon_until": self.horizon_until.isoformat(),
        }

    def message(self) -> str:
        """One line for a person, e.g. `planned 12 reminders, skipped 2 (superseded 2), …`."""
        return (
            f"planned {self.planned} reminder{'s' if self.planned != 1 else ''}, "
            f"skipped {_counts(self.skipped)}, cancelled {_counts(self.cancelled)}"
        )


def _counts(by_reason: dict[str, int]) -> str:
    total = sum(by_reason.values())
    details = ", ".join(f"{k} {v}" for k, v in sorted(by_reason.items()) if v)
    return f"{total} ({details})" if details else str(total)


def process_reminders(engine: Engine, settings: Settings, now: datetime) -> ReminderSummary:
    """Cancel stale pending notifications, then plan every reminder due by now + horizon.

    One transaction; safe to run repeatedly and concurrently (a second run plans nothing
    new). Only open appointments that have not started are planned. Raises SQLAlchemy's
    errors when the database fails; nothing is half-done then.
    """
    now = utc(now)
    kinds = reminder_kinds(settings.reminder_offsets)
    horizon = settings.reminder_horizon
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The planner cannot know a client has at most three channels and estimates
            # millions of rows, which triggers JIT compilation: ~0.5 s spent to save nothing.
            conn.execute(sa.text("SET LOCAL jit = off"))
        cancelled = cancel_stale(conn, now)
        planned = plan_due(conn, kinds, now, min_lead=settings.min_lead, horizon=horizon)
    skipped = {reason: n for (status, reason), n in planned.items() if status == _SKIPPED}
    return ReminderSummary(
        now=now,
        horizon_until=now + horizon,
        planned=sum(n for (status, _), n in planned.items() if status == _PENDING),
        skipped={str(reason): n for reason, n in skipped.items()},
        cancelled=cancelled,
    )


def cancel_stale(conn: sa.Connection, now: datetime) -> dict[str, int]:
    """Cancel pending notifications whose appointment closed or moved; counts by reason.

    The reason is the appointment's status (`cancelled`, `completed`, `no_show`) or
    `rescheduled` when it is still open but starts at another time than planned for.
    """
    n, a = notifications, appointments
    same_appointment = a.c.id == n.c.appointment_id
    reason = (
        sa.select(sa.case((a.c.status.in_(_OPEN), Reason.rescheduled.value), else_=a.c.status))
        .where(same_appointment)
        .scalar_subquery()
    )
    stale = sa.exists().where(
        same_appointment,
        sa.or_(a.c.status.not_in(_OPEN), a.c.starts_at != n.c.planned_start),
    )
    rows = conn.execute(
        sa.update(n)
        .where(n.c.status == _PENDING, stale)
        .values(status=NotificationStatus.cancelled.value, reason=reason, updated_at=now)
        .returning(n.c.reason)
    )
    return dict(Counter(str(r) for (r,) in rows))


def plan_due(
    conn: sa.Connection,
    kinds: Sequence[ReminderKind],
    now: datetime,
    *,
    min_lead: timedelta,
    horizon: timedelta,
) -> dict[tuple[str, str | None], int]:
    """Insert every missing notification due by `now + horizon`; counts by (status, reason)."""
    if not kinds:
        return {}
    query = sa.union_all(
        *(
            _planning_select(
                kind,
                kinds[i + 1] if i + 1 < len(kinds) else None,
                now,
                min_lead=min_lead,
                horizon=horizon,
                dialect=conn.dialect.name,
            )
            for i, kind in enumerate(kinds)
        )
    )
    # A fixed insertion order: two sweeps at once on PostgreSQL then wait on each other's
    # rows in the same order instead of deadlocking.
    query = query.order_by(
        sa.literal_column("appointment_id"), sa.literal_column("kind"), sa.literal_column("channel")
    )
    n = notifications.c
    insert = insert_or_skip(conn, notifications, PLAN_KEY).from_select(_INSERT_COLUMNS, query)
    if conn.dialect.name == "postgresql":
        # Count inside the database: the inserted rows never travel to Python.
        inserted = insert.returning(n.status, n.reason).cte("inserted")
        counted = sa.select(inserted.c.status, inserted.c.reason, sa.func.count()).group_by(
            inserted.c.status, inserted.c.reason
        )
        return {(status, reason): count for status, reason, count in conn.execute(counted)}
    counts = Counter(
        (status, reason) for status, reason in conn.execute(insert.returning(n.status, n.reason))
    )
    return dict(counts)


_INSERT_COLUMNS = [
    "appointment_id", "client_id", "kind", "channel", "recipient", "status", "due_at",
    "planned_start", "attempts", "reason", "created_at", "updated_at",
]  # fmt: skip


def _client_channels(dialect: str) -> tuple[sa.FromClause, sa.ColumnElement[str]]:
    """The client's channel list as rows, joined after the client (a set-returning function).

    Expanding the JSON list in place, rather than crossing a constant table of channels
    with a membership test, fixes the join order on both planners: appointments by start
    time first, then their client, then that client's channels. Both planners misjudge
    the membership test and otherwise drive the query from clients x channels.
    """
    if dialect == "postgresql":
        rows = (
            sa.func.jsonb_array_elements_text(clients.c.channels)
            .table_valued("channel", name="ch")
            .render_derived()
        )
        return rows, rows.c.channel
    rows = sa.func.json_each(clients.c.channels).table_valued("value", name="ch")
    return rows, rows.c.value


def _planning_select(
    kind: ReminderKind,
    smaller: ReminderKind | None,
    now: datetime,
    *,
    min_lead: timedelta,
    horizon: timedelta,
    dialect: str,
) -> sa.Select[Any]:
    """The rows of one reminder kind; mirrors `planning.plan` (see its docstring)."""
    a, c, n = appointments.c, clients.c, notifications.c
    ch, channel = _client_channels(dialect)
    start = a.starts_at
    opted_out = json_list_has(c.opt_out, channel)
    on_time = start > now + kind.offset
    # Late: still worth sending while the next smaller reminder is ahead (or, for the
    # smallest, while the start is at least min_lead away).
    late_ok = start > now + smaller.offset if smaller is not None else start >= now + min_lead
    late_reason = Reason.superseded if smaller is not None else Reason.too_late
    recipient = sa.case(
        (channel == Channel.email.value, c.email),
        (channel == Channel.sms.value, c.phone),
        else_=c.whatsapp,
    )
    status = sa.case(
        (opted_out, _SKIPPED), (on_time, _PENDING), (late_ok, _PENDING), else_=_SKIPPED
    )
    reason = sa.case(
        (opted_out, Reason.opted_out.value),
        (on_time, sa.null()),
        (late_ok, sa.null()),
        else_=late_reason.value,
    )
    due_at = sa.case(
        (sa.and_(sa.not_(opted_out), sa.not_(on_time), late_ok), sa.literal(now, a.starts_at.type)),
        else_=shifted(start, -int(kind.offset.total_seconds())),
    )
    stamp = sa.literal(now, a.starts_at.type)
    return (
        sa.select(
            a.id.label("appointment_id"),
            a.client_id.label("client_id"),
            sa.literal(kind.name).label("kind"),
            channel.label("channel"),
            recipient.label("recipient"),
            status.label("status"),
            due_at.label("due_at"),
            start.label("planned_start"),
            sa.literal(0).label("attempts"),
            reason.label("reason"),
            stamp.label("created_at"),
            stamp.label("updated_at"),
        )
        .select_from(appointments.join(clients, c.id == a.client_id).join(ch, sa.true()))
        .where(
            a.status.in_(_OPEN),
            start > now,
            start <= now + horizon + kind.offset,
            recipient.is_not(None),
            # Keys planned before are skipped here, cheaply; "on conflict do nothing" is
            # left to settle races with a sweep or a booking running at the same moment.
            ~sa.exists().where(
                n.appointment_id == a.id,
                n.kind == kind.name,
                n.channel == channel,
                n.planned_start == start,
            ),
        )
    )
