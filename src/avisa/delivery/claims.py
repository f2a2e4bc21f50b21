"""Claims: who sends which due notification, decided by the database.

A claim moves due notifications from `pending` (or `sending` whose lease ran out) to
`sending` with a lease and one more attempt: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
concurrent workers take disjoint rows; on SQLite the transaction holds the write lock from
its first statement (`BEGIN IMMEDIATE`), so the conditional UPDATE is the claim and its
returned rows are exactly what this worker won.

While a row is `sending`, `next_attempt_at` is its lease deadline (while `pending`, the
earliest retry). The attempt count is the fencing token: every later write for the claim
is made `WHERE status = 'sending' AND attempts = <count at claim>`, so a worker whose lease
expired and whose row was claimed again cannot overwrite the newer attempt.

The statements are built once, with bound parameters: the worker runs them many times a
second and building SQLAlchemy constructs per call cost more than executing them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables import appointments, clients, notifications
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
    opt_out: tuple[str, ...] = ()
    #: Taken over from an expired lease: the previous attempt's worker stopped mid-way,
    #: so the provider may already have this message (see `Reconciling`).
    resumed: bool = False

    def stale_reason(self, now: datetime) -> str | None:
        """Why not to send at `now`, judged from the appointment and the client as read at
        claim time (see `recheck` for the reasons), or None."""
        if self.channel in self.opt_out:
            return OPTED_OUT
        return _stale(self.appointment_status, self.starts_at, self.planned_start, now)


#: The reason for a reminder whose appointment has already started (a worker that was
#: down past it): it is skipped, never sent late.
TOO_LATE = "too_late"
#: The client opted out of the notification's channel after it was planned (a STOP reply
#: arriving while it waited): it is cancelled, never sent.
OPTED_OUT = "opted_out"


def _stale(status: str, starts_at: datetime, planned_start: datetime, now: datetime) -> str | None:
    if status not in _OPEN:
        return status
    if starts_at != planned_start:
        return "rescheduled"
    if starts_at <= now:
        return TOO_LATE
    return None


def bound(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    """A named bound parameter (of `type_`), for statements built once."""
    return sa.bindparam(name, type_=type_)


#: The claim's fence: the row is still held by the attempt that claimed it.
HELD = sa.and_(
    _n.id == bound("b_id", sa.Integer()),
    _n.status == SENDING,
    _n.attempts == bound("b_attempts", sa.Integer()),
)
_NOW = bound("now", UTCDateTime())
_MAX = bound("max_attempts", sa.Integer())
_LIMIT = bound("limit", sa.Integer())
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)

_DUE = sa.and_(
    _n.status == PENDING,
    _n.due_at <= _NOW,
    sa.or_(_n.next_attempt_at.is_(None), _n.next_attempt_at <= _NOW),
    _n.attempts < _MAX,
)
_EXPIRED = sa.and_(_n.status == SENDING, _n.next_attempt_at <= _NOW, _n.attempts < _MAX)


def _pick(condition: sa.ColumnElement[bool], *, skip_locked: bool) -> sa.Select[Any]:
    query = sa.select(_n.id).where(condition).order_by(_n.due_at, _n.id).limit(_LIMIT)
    return query.with_for_update(skip_locked=True) if skip_locked else query


# Expired leases (their worker died) first, then new work; two index scans on
# (status, due_at) rather than one OR that would scan the table.
_PICKS = {
    postgres: (_pick(_EXPIRED, skip_locked=postgres), _pick(_DUE, skip_locked=postgres))
    for postgres in (False, True)
}
# The rows were chosen in this transaction, which holds them (SKIP LOCKED's row locks, or
# SQLite's write lock): the status test is a guard, kept simple so the UPDATE goes by key.
_TAKE = (
    sa.update(notifications)
    .where(_n.id.in_(_IDS), _n.status.in_((PENDING, SENDING)))
    .values(
        status=SENDING,
        attempts=_n.attempts + 1,
        next_attempt_at=bound("lease_until", UTCDateTime()),
        updated_at=_NOW,
    )
    .returning(_n.id)
)
_a, _c = appointments.c, clients.c
_LOAD = (
    sa.select(
        _n.id,
        _n.attempts,
        _n.kind,
        _n.channel,
        _n.recipient,
        _n.due_at,
        _n.planned_start,
        _a.id.label("appointment_id"),
        _a.status.label("appointment_status"),
        _a.starts_at,
        _a.ends_at,
        _a.timezone,
        _a.service,
        _a.staff,
        _a.location,
        _a.total_amount,
        _a.paid_amount,
        _a.currency,
        _c.name.label("client_name"),
        _c.locale,
        _c.opt_out,
    )
    .select_from(
        notifications.join(appointments, _a.id == _n.appointment_id).join(
            clients, _c.id == _n.client_id
        )
    )
    .where(_n.id.in_(_IDS))
    .order_by(_n.due_at, _n.id)
)
_FAIL_EXHAUSTED = (
    sa.update(notifications)
    .where(_n.status == SENDING, _n.next_attempt_at <= _NOW, _n.attempts >= _MAX)
    .values(
        status=NotificationStatus.failed.value,
        last_error="lease expired on the last attempt (the worker stopped mid-send)",
        next_attempt_at=None,
        updated_at=_NOW,
    )
)


@contextmanager
def quick_commit(engine: Engine) -> Iterator[sa.Connection]:
    """`engine.begin()`, except that on PostgreSQL the commit does not wait for the WAL
    flush (`synchronous_commit = off` for this transaction only).

    For the worker's own bookkeeping: a crash may lose the last few milliseconds of it,
    which leaves a claim unmade (the row is claimed again) or an outcome unrecorded (the
    lease expires and the message is sent again): the at-least-once-across-a-crash
    promise, not a new risk. Waiting for an fsync per batch on the worker's loop was
    most of PostgreSQL's cost in bench/delivery.py.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        yield conn


def claim_due(
    engine: Engine, now: datetime, *, limit: int, lease: timedelta, max_attempts: int
) -> list[Claim]:
    """Claim up to `limit` due notifications, oldest due first, for `lease`.

    One transaction; raises SQLAlchemy's errors.
    """
    params: dict[str, Any] = {"now": now, "max_attempts": max_attempts}
    with quick_commit(engine) as conn:
        expired, due = _PICKS[conn.dialect.name == "postgresql"]
        resumed = set(conn.execute(expired, {**params, "limit": limit}).scalars())
        ids = list(resumed)
        if len(ids) < limit:
            ids += conn.execute(due, {**params, "limit": limit - len(ids)}).scalars()
        if not ids:
            return []
        won = list(
            conn.execute(_TAKE, {"ids": ids, "now": now, "lease_until": now + lease}).scalars()
        )
        if not won:
            return []
        return [
            Claim(
                **{**row._asdict(), "opt_out": tuple(row.opt_out or ())},
                resumed=row.id in resumed,
            )
            for row in conn.execute(_LOAD, {"ids": won})
        ]


def fail_exhausted(engine: Engine, now: datetime, *, max_attempts: int) -> int:
    """Fail rows whose lease expired on their last allowed attempt (their worker died
    every time); returns how many."""
    with quick_commit(engine) as conn:
        return conn.execute(_FAIL_EXHAUSTED, {"now": now, "max_attempts": max_attempts}).rowcount


#: `recheck`'s answer for a row this worker no longer holds (its lease ran out and another
#: attempt took it): the worker drops it without sending or recording anything.
LEASE_LOST = "lease_lost"


def recheck(
    engine: Engine, held: Sequence[tuple[int, int]], now: datetime, lease: timedelta
) -> list[str | None]:
    """Just before sending: renew the lease of each (id, attempts) this worker holds and
    say, per row, why it must not be sent now, or None to send it.

    The reason is `LEASE_LOST`, the appointment's status when it is no longer open
    (`cancelled`, `completed`, `no_show`), `rescheduled` when it starts at another time
    than the notification was planned for, `too_late` when it has already started, or
    `opted_out` when the client has opted out of the channel since. One transaction.
    """
    a = appointments.c
    ids = [nid for nid, _ in held]
    with quick_commit(engine) as conn:
        conn.execute(
            sa.update(notifications)
            .where(HELD)
            .values(next_attempt_at=now + lease, updated_at=now)
            .execution_options(synchronize_session=False),
            [{"b_id": nid, "b_attempts": attempts} for nid, attempts in held],
        )
        query = (
            sa.select(
                _n.id,
                _n.status,
                _n.attempts,
                _n.planned_start,
                a.status,
                a.starts_at,
                _n.channel,
                clients.c.opt_out,
            )
            .select_from(
                notifications.join(appointments, a.id == _n.appointment_id).outerjoin(
                    clients, clients.c.id == _n.client_id
                )
            )
            .where(_n.id.in_(ids))
        )
        found = {row[0]: row for row in conn.execute(query)}
    reasons: list[str | None] = []
    for nid, attempts in held:
        row = found.get(nid)
        if row is None or row[1] != SENDING or row[2] != attempts:
            reasons.append(LEASE_LOST)
        elif row[6] in (row[7] or ()):
            reasons.append(OPTED_OUT)
        else:
            reasons.append(_stale(str(row[4]), row[5], row[3], now))
    return reasons
