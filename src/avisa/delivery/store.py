"""The delivery worker's writes after a send, and the figures people read.

Every outcome is written under the claim's fence (see `claims`): only while the row is
still `sending` with the attempt count this worker claimed it at.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables import cron_execution_logs, notifications
from avisa.db.types import UTCDateTime
from avisa.delivery.claims import HELD, PENDING, SENDING, bound, quick_commit
from avisa.domain.model import NotificationStatus

_n = notifications.c
_FENCE = HELD
_bp = bound


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed notification; `status` is the row's new status."""

    id: int
    attempts: int
    #: sent | pending (retry) | deferred (retry, the attempt refunded) | failed |
    #: cancelled | skipped
    status: str
    at: datetime
    provider: str | None = None
    message_id: str | None = None
    error: str | None = None
    reason: str | None = None
    next_attempt_at: datetime | None = None


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
    # Not the message's fault (no credential): back to pending, the attempt not counted.
    "deferred": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=PENDING,
        attempts=_n.attempts - 1,
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
    "skipped": sa.update(notifications)
    .where(_FENCE)
    .values(
        status=NotificationStatus.skipped.value,
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
    with quick_commit(engine) as conn:
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
            changed = conn.execute(_STATEMENTS[status], params).rowcount
            if changed == len(group):
                # The drivers report executemany's total: every row was still held.
                written.update(o.id for o in group)
                continue
            # Some were not: find which by reading back.
            ids = [o.id for o in group]
            stored, refund = (PENDING, 1) if status == "deferred" else (status, 0)
            held = conn.execute(
                sa.select(_n.id, _n.attempts).where(_n.id.in_(ids), _n.status == stored)
            )
            attempts = {o.id: o.attempts for o in group}
            written.update(i for i, n in held if attempts.get(i) == n + refund)
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
