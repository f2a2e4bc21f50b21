"""The delivery worker's database side: claims, re-checks and outcomes.

A claim moves due notifications from `pending` (or `sending` whose lease ran out) to
`sending` with a lease and one more attempt, in one statement: `FOR UPDATE SKIP LOCKED`
on PostgreSQL so concurrent workers take disjoint rows; on SQLite the transaction holds
the write lock from its first statement (`BEGIN IMMEDIATE`), so the conditional UPDATE
is the claim and its returned rows are exactly what this worker won.

While a row is `sending`, `next_attempt_at` is its lease deadline (while `pending`, the
earliest retry). The attempt count is the fencing token: every outcome is written with
`WHERE status = 'sending' AND attempts = <count at claim>`, so a worker whose lease
expired and whose row was claimed again cannot overwrite the newer attempt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables import appointments, clients, cron_execution_logs, notifications
from avisa.db.types import UTCDateTime
from avisa.domain.model import OPEN_STATUSES, NotificationStatus

_n = notifications.c
_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))
PENDING = NotificationStatus.pending.value
SENDING = NotificationStatus.sending.value


@dataclass(frozen=True)
class Claim:
    """A notification this worker holds, with what rendering and the re-check need."""

    id: int
    attempts: int
    kind: str
    channel: str
    recipient: str
    due_at: datetime
    planned_start: datetime
    appointment_id: int
    appointment_status: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    service: str
    staff: str | None
    location: str | None
    total_amount: Decimal
    paid_amount: Decimal
    currency: str
    client_name: str
    locale: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed notification; `status` is the row's new status."""

    id: int
    attempts: int
    status: str  # sent | pending (retry) | failed | cancelled
    at: datetime
    provider: str | None = None
    message_id: str | None = None
    error: str | None = None
    reason: str | None = None
    next_attempt_at: datetime | None = None


def _claimable(now: datetime, max_attempts: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        _n.attempts < max_attempts,
        sa.or_(
            sa.and_(
                _n.status == PENDING,
                _n.due_at <= now,
                sa.or_(_n.next_attempt_at.is_(None), _n.next_attempt_at <= now),
            ),
            sa.and_(_n.status == SENDING, _n.next_attempt_at <= now),
        ),
    )


def claim_due(
    engine: Engine, now: datetime, *, limit: int, lease: timedelta, max_attempts: int
) -> list[Claim]:
    """Claim up to `limit` due notifications, oldest due first, for `lease`.

    Also fails rows whose lease expired on their last allowed attempt (their worker died
    every time). One transaction; raises SQLAlchemy's errors.
    """
    with engine.begin() as conn:
        conn.execute(
            sa.update(notifications)
            .where(_n.status == SENDING, _n.next_attempt_at <= now, _n.attempts >= max_attempts)
            .values(
                status=NotificationStatus.failed.value,
                last_error="lease expired on the last attempt (the worker stopped mid-send)",
                next_attempt_at=None,
                updated_at=now,
            )
        )
        chosen = (
            sa.select(_n.id)
            .where(_claimable(now, max_attempts))
            .order_by(_n.due_at, _n.id)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True)
        claimed = conn.execute(
            sa.update(notifications)
            .where(_n.id.in_(chosen.scalar_subquery()), _claimable(now, max_attempts))
            .values(
                status=SENDING,
                attempts=_n.attempts + 1,
                next_attempt_at=now + lease,
                updated_at=now,
            )
            .returning(_n.id)
        ).scalars()
        ids = list(claimed)
        if not ids:
            return []
        return _load(conn, ids)


def _load(conn: sa.Connection, ids: list[int]) -> list[Claim]:
    a, c = appointments.c, clients.c
    query = (
        sa.select(
            _n.id,
            _n.attempts,
            _n.kind,
            _n.channel,
            _n.recipient,
            _n.due_at,
            _n.planned_start,
            a.id.label("appointment_id"),
            a.status.label("appointment_status"),
            a.starts_at,
            a.ends_at,
            a.timezone,
            a.service,
            a.staff,
            a.location,
            a.total_amount,
            a.paid_amount,
            a.currency,
            c.name.label("client_name"),
            c.locale,
        )
        .select_from(
            notifications.join(appointments, a.id == _n.appointment_id).join(
                clients, c.id == _n.client_id
            )
        )
        .where(_n.id.in_(ids))
        .order_by(_n.due_at, _n.id)
    )
    return [Claim(**row._asdict()) for row in conn.execute(query)]


def _bp(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


_FENCE = sa.and_(
    _n.id == _bp("b_id", sa.Integer()),
    _n.status == SENDING,
    _n.attempts == _bp("b_attempts", sa.Integer()),
)
#: `recheck`'s answer for a row this worker no longer holds (its lease ran out and another
#: attempt took it): the worker drops it without sending or recording anything.
LEASE_LOST = "lease_lost"


def recheck(
    engine: Engine, held: Sequence[tuple[int, int]], now: datetime, lease: timedelta
) -> list[str | None]:
    """Just before sending: renew the lease of each (id, attempts) this worker holds and
    say, per row, why it must not be sent now, or None to send it.

    The reason is `LEASE_LOST`, the appointment's status when it is no longer open
    (`cancelled`, `completed`, `no_show`), or `rescheduled` when it starts at another time
    than the notification was planned for. One transaction.
    """
    a = appointments.c
    ids = [nid for nid, _ in held]
    with engine.begin() as conn:
        conn.execute(
            sa.update(notifications)
            .where(_FENCE)
            .values(next_attempt_at=now + lease, updated_at=now)
            .execution_options(synchronize_session=False),
            [{"b_id": nid, "b_attempts": attempts} for nid, attempts in held],
        )
        query = (
            sa.select(_n.id, _n.status, _n.attempts, _n.planned_start, a.status, a.starts_at)
            .select_from(notifications.join(appointments, a.id == _n.appointment_id))
            .where(_n.id.in_(ids))
        )
        found = {row[0]: row for row in conn.execute(query)}
    reasons: list[str | None] = []
    for nid, attempts in held:
        row = found.get(nid)
        if row is None or row[1] != SENDING or row[2] != attempts:
            reasons.append(LEASE_LOST)
        elif row[4] not in _OPEN:
            reasons.append(str(row[4]))
        elif row[5] != row[3]:
            reasons.append("rescheduled")
        else:
            reasons.append(None)
    return reasons


_AT = UTCDateTime()
_STATEMENTS: dict[str, sa.Update] = {
    "sent": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=NotificationStatus.sent.value,
        provider=_bp("b_provider"),
        provider_message_id=_bp("b_message_id"),
        sent_at=_bp("b_at", _AT),
        last_error=None,
        next_attempt_at=None,
        updated_at=_bp("b_at", _AT),
    ),
    "pending": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=PENDING,
        provider=_bp("b_provider"),
        last_error=_bp("b_error"),
        next_attempt_at=_bp("b_next", _AT),
        updated_at=_bp("b_at", _AT),
    ),
    "failed": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=NotificationStatus.failed.value,
        provider=_bp("b_provider"),
        last_error=_bp("b_error"),
        next_attempt_at=None,
        updated_at=_bp("b_at", _AT),
    ),
    "cancelled": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=NotificationStatus.cancelled.value,
        reason=_bp("b_reason"),
        next_attempt_at=None,
        updated_at=_bp("b_at", _AT),
    ),
}


def record_outcomes(engine: Engine, outcomes: list[Outcome]) -> list[bool]:
    """Write outcomes in one transaction; per outcome, whether this worker still held it.

    False means the lease had expired and another attempt owns the row now (nothing is
    written for it then).
    """
    by_status: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_status[outcome.status].append(outcome)
    written: set[int] = set()
    with engine.begin() as conn:
        for status, group in by_status.items():
            params = [
                {
                    "b_id": o.id,
                    "b_attempts": o.attempts,
                    "b_provider": o.provider,
                    "b_message_id": o.message_id,
                    "b_error": o.error,
                    "b_reason": o.reason,
                    "b_next": o.next_attempt_at,
                    "b_at": o.at,
                }
                for o in group
            ]
            if len(params) == 1:
                if conn.execute(_STATEMENTS[status], params[0]).rowcount == 1:
                    written.add(group[0].id)
                continue
            conn.execute(_STATEMENTS[status], params)
            # executemany does not report per-row counts: confirm by reading back.
            ids = [o.id for o in group]
            held = conn.execute(
                sa.select(_n.id, _n.attempts).where(_n.id.in_(ids), _n.status == status)
            )
            attempts = {o.id: o.attempts for o in group}
            written.update(i for i, n in held if attempts.get(i) == n)
    return [o.id in written for o in outcomes]


def next_due_at(engine: Engine, max_attempts: int) -> datetime | None:
    """The earliest instant at which something becomes claimable (due, retry or lease)."""
    pending = sa.select(
        sa.func.min(sa.func.coalesce(_n.next_attempt_at, _n.due_at)).label("at")
    ).where(_n.status == PENDING, _n.attempts < max_attempts)
    leased = sa.select(sa.func.min(_n.next_attempt_at).label("at")).where(_n.status == SENDING)
    with engine.connect() as conn:
        values = [conn.execute(q).scalar() for q in (pending, leased)]
    found = [UTCDateTime().process_result_value(v, engine.dialect) for v in values if v]
    return min((v for v in found if v is not None), default=None)


def delivery_counts(engine: Engine, since: datetime | None = None) -> dict[str, dict[str, int]]:
    """Notifications by channel and status (the dashboard's numbers), touched since `since`.

    Every channel and the statuses `sent`, `failed`, `pending`, `sending` are present.
    """
    query = sa.select(_n.channel, _n.status, sa.func.count()).group_by(_n.channel, _n.status)
    if since is not None:
        query = query.where(_n.updated_at >= since)
    counts: dict[str, dict[str, int]] = {
        ch: {"sent": 0, "failed": 0, "pending": 0, "sending": 0}
        for ch in ("email", "sms", "whatsapp")
    }
    with engine.connect() as conn:
        for channel, status, count in conn.execute(query):
            counts.setdefault(channel, {})[status] = int(count)
    return counts


def last_run_of(engine: Engine, function_name: str) -> datetime | None:
    """When `function_name` last wrote an execution log (its previous run), if ever."""
    logs = cron_execution_logs.c
    query = (
        sa.select(logs.created_at)
        .where(logs.function_name == function_name)
        .order_by(logs.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        value: datetime | None = conn.execute(query).scalar()
    return value
