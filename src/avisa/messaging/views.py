"""What the API and the dashboard show of messaging: how an appointment was confirmed and
the last reply about it (an unrecognised one included, so a person can read it).

Read-only queries over `inbound_messages`; the caller owns the connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from avisa.db.tables import inbound_messages

_i = inbound_messages.c

#: Outcomes that confirmed an appointment (a repeated "C" confirms nothing new).
_CONFIRMING = ("confirmed",)


@dataclass(frozen=True)
class ReplyView:
    """The latest reply that concerned an appointment."""

    received_at: datetime
    channel: str
    body: str
    outcome: str


@dataclass(frozen=True)
class AppointmentReplies:
    """`confirmed_via`: the channel of the reply that confirmed it, if one did."""

    confirmed_via: str | None = None
    last_reply: ReplyView | None = None


def appointment_replies(
    conn: sa.Connection, appointment_ids: Iterable[int]
) -> dict[int, AppointmentReplies]:
    """Per appointment with at least one reply, what the replies tell; others are absent."""
    ids = list(appointment_ids)
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(_i.appointment_id, _i.received_at, _i.channel, _i.body, _i.outcome)
        .where(_i.appointment_id.in_(ids))
        .order_by(_i.appointment_id, _i.id)
    )
    found: dict[int, AppointmentReplies] = {}
    for appointment_id, received_at, channel, body, outcome in rows:
        before = found.get(appointment_id, AppointmentReplies())
        via = channel if outcome in _CONFIRMING else before.confirmed_via
        found[appointment_id] = AppointmentReplies(
            confirmed_via=via, last_reply=ReplyView(received_at, channel, body, outcome)
        )
    return found


@dataclass(frozen=True)
class InboundRow:
    """One received message, for the dashboard's list of replies."""

    id: int
    received_at: datetime
    channel: str
    from_number: str
    body: str
    outcome: str
    appointment_id: int | None
    answer_status: str | None


def recent_replies(conn: sa.Connection, *, limit: int = 50) -> list[InboundRow]:
    """The latest received messages, newest first (unrecognised ones are in there too:
    that is where a person reads what avisa did not understand)."""
    rows = conn.execute(
        sa.select(
            _i.id,
            _i.received_at,
            _i.channel,
            _i.from_number,
            _i.body,
            _i.outcome,
            _i.appointment_id,
            _i.answer_status,
        )
        .order_by(_i.received_at.desc(), _i.id.desc())
        .limit(limit)
    )
    return [InboundRow(*row) for row in rows]
