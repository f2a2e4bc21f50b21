"""Appointments: create (or update by `external_id`), read, list, edit, confirm, cancel.

Every change re-plans the appointment's reminders in the same transaction, so a late
booking gets its reminders at once and a cancelled or moved one loses its pending ones.
State changes are conditional UPDATEs on the current status: the database, not a read
made earlier, decides whether a transition is allowed. Functions take an open connection
and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from avisa.config import Settings
from avisa.db.tables import appointments
from avisa.domain.clients import find_or_create_client, get_client
from avisa.domain.model import OPEN_STATUSES, AppointmentRecord, AppointmentStatus
from avisa.domain.notifications import apply_plan, notifications_of
from avisa.domain.planning import plan, reminder_kinds
from avisa.domain.schemas import AppointmentCreate, AppointmentPublic, AppointmentUpdate
from avisa.domain.sql import cursor_id, decode_cursor, encode_cursor, insert_or_skip
from avisa.domain.validation import (
    InvalidFieldError,
    check_amount,
    check_currency,
    check_zone,
    quantize_amount,
    to_utc,
)
from avisa.errors import ConflictError, NotFoundError

_OPEN = tuple(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class AppointmentFilter:
    """What `list_appointments` narrows to; every field is optional."""

    status: tuple[AppointmentStatus, ...] = ()
    client_id: int | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None


def create_appointment(
    conn: sa.Connection, data: AppointmentCreate, settings: Settings, now: datetime
) -> tuple[AppointmentRecord, bool]:
    """Create an appointment and plan its reminders; returns (appointment, created).

    With an `external_id` already stored, that appointment is updated instead (created is
    False), so an upstream system may push the same booking any number of times. An inline
    `client` is matched to an existing client by email, else phone (see
    `find_or_create_client`), so repeated pushes do not multiply clients either.
    Raises NotFoundError for an unknown `client_id`, InvalidFieldError for bad fields and
    ConflictError when the existing appointment is no longer open to changes.
    """
    if data.client is not None:
        client = find_or_create_client(conn, data.client, settings, now, prefix="client.")
    elif data.client_id is not None:
        client = get_client(conn, data.client_id)
    else:
        raise InvalidFieldError("client_id", "give exactly one of client_id or client")
    zone = check_zone("timezone", data.timezone or client.timezone)
    values = _checked_values(
        {
            "client_id": client.id,
            "service": data.service,
            "staff": data.staff,
            "location": data.location,
            "timezone": zone,
            "starts_at": to_utc("starts_at", data.starts_at, zone),
            "ends_at": to_utc("ends_at", data.ends_at, zone),
            "total_amount": data.total_amount,
            "paid_amount": data.paid_amount,
            "currency": data.currency or settings.default_currency,
        }
    )
    status = AppointmentStatus(data.status)
    row_values = {
        **values,
        "status": status.value,
        "external_id": data.external_id,
        "confirmed_at": now if status is AppointmentStatus.confirmed else None,
        "created_at": now,
        "updated_at": now,
    }
    if data.external_id is None:
        stmt = sa.insert(appointments)
    else:
        # Racing pushes of the same booking: the unique key lets exactly one insert win.
        stmt = insert_or_skip(conn, appointments, [appointments.c.external_id])
    row = conn.execute(stmt.values(**row_values).returning(*appointments.c)).first()
    if row is None:
        existing = conn.execute(
            sa.select(appointments.c.id).where(appointments.c.external_id == data.external_id)
        ).scalar_one()
        return _update(conn, existing, values, settings, now), False
    record = appointment_record(row._mapping)
    replan(conn, record, settings, now)
    return record, True


def update_appointment(
    conn: sa.Connection,
    appointment_id: int,
    data: AppointmentUpdate,
    settings: Settings,
    now: datetime,
) -> AppointmentRecord:
    """Edit or reschedule: change the fields present in `data` and re-plan reminders.

    A naive `starts_at`/`ends_at` is wall-clock time in the (new or current) zone.
    Raises NotFoundError, InvalidFieldError, or ConflictError unless the appointment is
    scheduled or confirmed.
    """
    current = get_appointment(conn, appointment_id)
    changes = data.model_dump(include=data.model_fields_set, exclude_none=True)
    zone = check_zone("timezone", changes.get("timezone", current.timezone))
    values: dict[str, Any] = {
        "client_id": current.client_id,
        "service": current.service,
        "staff": current.staff,
        "location": current.location,
        "timezone": zone,
        "starts_at": current.starts_at,
        "ends_at": current.ends_at,
        "total_amount": current.total_amount,
        "paid_amount": current.paid_amount,
        "currency": current.currency,
    }
    for name in ("staff", "location"):
        if name in data.model_fields_set:  # an explicit null clears these
            values[name] = getattr(data, name)
    values.update({k: v for k, v in changes.items() if k not in ("starts_at", "ends_at")})
    for name in ("starts_at", "ends_at"):
        if name in changes:
            values[name] = to_utc(name, changes[name], zone)
    return _update(conn, appointment_id, _checked_values(values), settings, now)


def _update(
    conn: sa.Connection,
    appointment_id: int,
    values: dict[str, Any],
    settings: Settings,
    now: datetime,
) -> AppointmentRecord:
    row = conn.execute(
        sa.update(appointments)
        .where(appointments.c.id == appointment_id, appointments.c.status.in_(_OPEN))
        .values(**values, updated_at=now)
        .returning(*appointments.c)
    ).first()
    if row is None:
        current = get_appointment(conn, appointment_id)
        raise ConflictError(
            f"appointment {appointment_id} is {current.status}; only scheduled or confirmed "
            "appointments can be changed"
        )
    record = appointment_record(row._mapping)
    replan(conn, record, settings, now)
    return record


def confirm_appointment(
    conn: sa.Connection, appointment_id: int, settings: Settings, now: datetime
) -> AppointmentRecord:
    """scheduled -> confirmed (a confirmed one is returned unchanged).

    Raises NotFoundError, or ConflictError for a cancelled, completed or no-show one.
    """
    return _transition(
        conn,
        appointment_id,
        settings,
        now,
        source=(AppointmentStatus.scheduled,),
        target=AppointmentStatus.confirmed,
        stamp="confirmed_at",
    )


def cancel_appointment(
    conn: sa.Connection, appointment_id: int, settings: Settings, now: datetime
) -> AppointmentRecord:
    """scheduled or confirmed -> cancelled, cancelling pending reminders (idempotent).

    Raises NotFoundError, or ConflictError for a completed or no-show appointment.
    """
    return _transition(
        conn,
        appointment_id,
        settings,
        now,
        source=(AppointmentStatus.scheduled, AppointmentStatus.confirmed),
        target=AppointmentStatus.cancelled,
        stamp="cancelled_at",
    )


def _transition(
    conn: sa.Connection,
    appointment_id: int,
    settings: Settings,
    now: datetime,
    *,
    source: tuple[AppointmentStatus, ...],
    target: AppointmentStatus,
    stamp: str,
) -> AppointmentRecord:
    row = conn.execute(
        sa.update(appointments)
        .where(
            appointments.c.id == appointment_id,
            appointments.c.status.in_([s.value for s in source]),
        )
        .values(status=target.value, updated_at=now, **{stamp: now})
        .returning(*appointments.c)
    ).first()
    if row is None:
        current = get_appointment(conn, appointment_id)
        if current.status is target:
            return current
        allowed = " or ".join(s.value for s in source)
        raise ConflictError(
            f"appointment {appointment_id} is {current.status}; only a {allowed} "
            f"appointment can become {target}"
        )
    record = appointment_record(row._mapping)
    replan(conn, record, settings, now)
    return record


def replan(
    conn: sa.Connection, appointment: AppointmentRecord, settings: Settings, now: datetime
) -> tuple[int, int]:
    """Apply the planning rules to `appointment` now; returns (planned, cancelled)."""
    client = get_client(conn, appointment.client_id)
    result = plan(
        appointment,
        client,
        reminder_kinds(settings.reminder_offsets),
        now,
        min_lead=settings.min_lead,
        existing=notifications_of(conn, appointment.id),
    )
    return apply_plan(conn, appointment, result, now)


def get_appointment(conn: sa.Connection, appointment_id: int) -> AppointmentRecord:
    """The appointment with `appointment_id`; raises NotFoundError."""
    row = conn.execute(sa.select(appointments).where(appointments.c.id == appointment_id)).first()
    if row is None:
        raise NotFoundError(f"appointment {appointment_id} does not exist")
    return appointment_record(row._mapping)


def list_appointments(
    conn: sa.Connection, where: AppointmentFilter, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[AppointmentRecord], str | None]:
    """Appointments by start time (then id), `limit` at a time, and the next page's cursor."""
    a = appointments.c
    query = sa.select(appointments).order_by(a.starts_at, a.id).limit(limit + 1)
    if where.status:
        query = query.where(a.status.in_([s.value for s in where.status]))
    if where.client_id is not None:
        query = query.where(a.client_id == where.client_id)
    if where.starts_from is not None:
        query = query.where(a.starts_at >= where.starts_from)
    if where.starts_before is not None:
        query = query.where(a.starts_at < where.starts_before)
    if cursor is not None:
        after_start, after_id = decode_cursor(cursor, 2)
        try:
            start = datetime.fromisoformat(str(after_start))
            if start.tzinfo is None:
                raise ValueError(after_start)
        except ValueError:
            raise InvalidFieldError("cursor", "not a cursor this API returned") from None
        query = query.where(
            sa.or_(a.starts_at > start, sa.and_(a.starts_at == start, a.id > cursor_id(after_id)))
        )
    rows = [appointment_record(r._mapping) for r in conn.execute(query)]
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor(last.starts_at, last.id)
    return rows, None


def _checked_values(values: dict[str, Any]) -> dict[str, Any]:
    """Cross-field checks: end after start, currency, amounts within the currency's rules."""
    if values["ends_at"] <= values["starts_at"]:
        raise InvalidFieldError("ends_at", "must be after starts_at")
    currency = check_currency("currency", values["currency"])
    total = check_amount("total_amount", Decimal(values["total_amount"]), currency)
    paid = check_amount("paid_amount", Decimal(values["paid_amount"]), currency)
    if paid > total:
        raise InvalidFieldError("paid_amount", f"{paid} is more than total_amount {total}")
    return {**values, "currency": currency, "total_amount": total, "paid_amount": paid}


def appointment_record(row: Any) -> AppointmentRecord:
    """An `AppointmentRecord` from an `appointments` row mapping."""
    return AppointmentRecord(
        **{name: row[name] for name in AppointmentRecord.__dataclass_fields__ if name != "status"},
        status=AppointmentStatus(row["status"]),
    )


def appointment_public(record: AppointmentRecord) -> AppointmentPublic:
    """The API shape: instants in the appointment's zone, amounts with the currency's decimals."""
    tz = ZoneInfo(record.timezone)

    def local(instant: datetime | None) -> datetime | None:
        return instant.astimezone(tz) if instant is not None else None

    return AppointmentPublic(
        id=record.id,
        client_id=record.client_id,
        service=record.service,
        staff=record.staff,
        location=record.location,
        starts_at=record.starts_at.astimezone(tz),
        ends_at=record.ends_at.astimezone(tz),
        timezone=record.timezone,
        status=record.status,
        total_amount=quantize_amount(record.total_amount, record.currency),
        paid_amount=quantize_amount(record.paid_amount, record.currency),
        currency=record.currency,
        external_id=record.external_id,
        confirmed_at=local(record.confirmed_at),
        cancelled_at=local(record.cancelled_at),
        completed_at=local(record.completed_at),
        created_at=record.created_at.astimezone(tz),
        updated_at=record.updated_at.astimezone(tz),
    )
