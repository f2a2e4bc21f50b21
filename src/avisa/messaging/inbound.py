"""Replies: what a client's SMS or WhatsApp message does, done and recorded in one step.

`handle_inbound` records the message (once: the provider's message id is unique, so a
webhook the provider retries is not acted on twice), finds who sent it and acts:

- a confirm keyword confirms their nearest upcoming appointment (scheduled or confirmed,
  not started yet), a cancel keyword cancels it and its pending reminders;
- a stop keyword opts every client with that number out of the channel it came on, at
  once: their pending reminders on that channel are cancelled with reason `opted_out`,
  and planning skips that channel from then on;
- anything else is recorded as `unrecognised` (and logged) — never guessed at;
- a number no client has is recorded as `unknown_sender`; nothing changes.

Replies of one client are taken one at a time: the client rows are locked first
(`FOR UPDATE` on PostgreSQL; SQLite's write lock is held from `BEGIN IMMEDIATE`), so two
replies at once ("C" and "NO") are applied in some order and both answers are true.
Functions take an open connection and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
import structlog

from avisa.config import Settings
from avisa.db.tables import appointments, clients, inbound_messages, notifications
from avisa.domain.appointments import appointment_record, cancel_appointment, confirm_appointment
from avisa.domain.clients import client_record
from avisa.domain.model import (
    OPEN_STATUSES,
    AppointmentRecord,
    AppointmentStatus,
    Channel,
    ClientRecord,
    NotificationStatus,
    Reason,
)
from avisa.domain.sql import insert_or_skip
from avisa.errors import ConflictError
from avisa.messaging.keywords import Intent, Keywords
from avisa.messaging.payloads import InboundMessage

log = structlog.get_logger(__name__)

_a, _c, _i, _n = appointments.c, clients.c, inbound_messages.c, notifications.c
_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))


class Outcome(StrEnum):
    """What an inbound message did (the `outcome` column)."""

    confirmed = "confirmed"
    already_confirmed = "already_confirmed"
    cancelled = "cancelled"
    #: The appointment closed (cancelled, completed) between reading and acting on it.
    closed = "closed"
    opted_out = "opted_out"
    no_appointment = "no_appointment"
    unrecognised = "unrecognised"
    unknown_sender = "unknown_sender"
    #: The provider sent the same message again; it was handled the first time.
    duplicate = "duplicate"


@dataclass(frozen=True)
class Handled:
    """What `handle_inbound` did; `client` and `appointment` as they are now."""

    inbound_id: int | None
    intent: Intent
    outcome: Outcome
    client: ClientRecord | None = None
    appointment: AppointmentRecord | None = None


def handle_inbound(
    conn: sa.Connection,
    message: InboundMessage,
    keywords: Keywords,
    settings: Settings,
    now: datetime,
) -> Handled:
    """Record `message`, act on it, and say what was done (see the module docstring).

    Raises only database errors: a state that no longer allows the change is an outcome
    (`closed`), not an exception.
    """
    intent = keywords.classify(message.body)
    inbound_id = conn.execute(
        insert_or_skip(conn, inbound_messages, [_i.provider, _i.provider_message_id])
        .values(
            provider=message.provider,
            provider_message_id=message.provider_message_id[:128],
            channel=message.channel.value,
            from_number=message.from_number[:32],
            to_number=message.to_number[:32] if message.to_number else None,
            body=message.body,
            intent=intent.value,
            outcome=Outcome.unknown_sender.value,
            provider_timestamp=message.provider_timestamp,
            received_at=now,
        )
        .returning(_i.id)
    ).scalar()
    if inbound_id is None:
        return Handled(None, intent, Outcome.duplicate)
    senders = _senders(conn, message.from_number)
    if not senders:
        log.info("inbound_unknown_sender", channel=message.channel.value, inbound_id=inbound_id)
        return Handled(inbound_id, intent, Outcome.unknown_sender)
    appointment = _nearest(conn, [c.id for c in senders], now)
    client = next((c for c in senders if appointment and c.id == appointment.client_id), senders[0])
    outcome, appointment, client = _act(
        conn, intent, message.channel, senders, client, appointment, settings, now
    )
    if outcome is Outcome.unrecognised:
        # Surfaced: the row says so, the dashboard lists it, and the log carries it.
        log.warning("inbound_unrecognised", inbound_id=inbound_id, client_id=client.id)
    conn.execute(
        sa.update(inbound_messages)
        .where(_i.id == inbound_id)
        .values(
            outcome=outcome.value,
            client_id=client.id,
            appointment_id=appointment.id if appointment else None,
        )
    )
    return Handled(inbound_id, intent, outcome, client, appointment)


def _act(
    conn: sa.Connection,
    intent: Intent,
    channel: Channel,
    senders: list[ClientRecord],
    client: ClientRecord,
    appointment: AppointmentRecord | None,
    settings: Settings,
    now: datetime,
) -> tuple[Outcome, AppointmentRecord | None, ClientRecord]:
    if intent is Intent.stop:
        opted = opt_out(conn, senders, channel, now)
        return Outcome.opted_out, appointment, next(c for c in opted if c.id == client.id)
    if intent is Intent.unknown:
        return Outcome.unrecognised, appointment, client
    if appointment is None:
        return Outcome.no_appointment, None, client
    outcome, appointment = _change(conn, intent, appointment, settings, now)
    return outcome, appointment, client


def _change(
    conn: sa.Connection,
    intent: Intent,
    appointment: AppointmentRecord,
    settings: Settings,
    now: datetime,
) -> tuple[Outcome, AppointmentRecord]:
    """Confirm or cancel `appointment` through the domain's conditional transitions."""
    try:
        if intent is Intent.confirm:
            before = appointment.status
            appointment = confirm_appointment(conn, appointment.id, settings, now)
            if before is AppointmentStatus.confirmed:
                return Outcome.already_confirmed, appointment
            return Outcome.confirmed, appointment
        return Outcome.cancelled, cancel_appointment(conn, appointment.id, settings, now)
    except ConflictError:
        # Closed by the status updater between our read and our write.
        current = conn.execute(sa.select(appointments).where(_a.id == appointment.id)).one()
        return Outcome.closed, appointment_record(current._mapping)


def _senders(conn: sa.Connection, number: str) -> list[ClientRecord]:
    """Every client reachable at `number` (SMS or WhatsApp), locked, in id order."""
    rows = conn.execute(
        sa.select(clients)
        .where(sa.or_(_c.phone == number, _c.whatsapp == number))
        .order_by(_c.id)
        .with_for_update()
    )
    return [client_record(r._mapping) for r in rows]


def _nearest(conn: sa.Connection, client_ids: list[int], now: datetime) -> AppointmentRecord | None:
    """The open appointment of these clients that starts soonest after `now`."""
    row = conn.execute(
        sa.select(appointments)
        .where(_a.client_id.in_(client_ids), _a.status.in_(_OPEN), _a.starts_at > now)
        .order_by(_a.starts_at, _a.id)
        .limit(1)
    ).first()
    return appointment_record(row._mapping) if row is not None else None


def opt_out(
    conn: sa.Connection, targets: list[ClientRecord], channel: Channel, now: datetime
) -> list[ClientRecord]:
    """Add `channel` to each client's opt-outs and cancel their pending reminders on it.

    The clients must be locked by the caller (their `opt_out` list is rewritten whole).
    Returns the clients as they are now. A reminder already handed to the worker
    (`sending`) cannot be recalled; everything still pending is.
    """
    updated: list[ClientRecord] = []
    for client in targets:
        if channel in client.opt_out:
            updated.append(client)
            continue
        row = conn.execute(
            sa.update(clients)
            .where(_c.id == client.id)
            .values(opt_out=sorted({*client.opt_out, channel}), updated_at=now)
            .returning(*clients.c)
        ).one()
        updated.append(client_record(row._mapping))
    conn.execute(
        sa.update(notifications)
        .where(
            _n.client_id.in_([c.id for c in targets]),
            _n.channel == channel.value,
            _n.status == NotificationStatus.pending.value,
        )
        .values(
            status=NotificationStatus.cancelled.value,
            reason=Reason.opted_out.value,
            updated_at=now,
        )
    )
    return updated


def record_answer(
    conn: sa.Connection,
    inbound_id: int,
    *,
    text: str,
    status: str,
    message_id: str | None,
    error: str | None,
    now: datetime,
) -> None:
    """Write down the answer sent back for inbound message `inbound_id` and how it went."""
    conn.execute(
        sa.update(inbound_messages)
        .where(_i.id == inbound_id)
        .values(
            answer=text,
            answer_status=status,
            answer_message_id=message_id,
            answer_error=error,
            answered_at=now,
        )
    )
