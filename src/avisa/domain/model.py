"""The domain's vocabulary: statuses, channels, skip reasons and plain records.

Pure data: nothing here touches a database or the web, so the planning rules that use it
are testable as plain functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class AppointmentStatus(StrEnum):
    scheduled = "scheduled"
    confirmed = "confirmed"
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


#: Statuses whose appointments still get reminders and may be edited.
OPEN_STATUSES = frozenset({AppointmentStatus.scheduled, AppointmentStatus.confirmed})


class NotificationStatus(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"
    skipped = "skipped"


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"


class Reason(StrEnum):
    """Why a notification was skipped or cancelled (the `reason` column)."""

    superseded = "superseded"
    """Booked late: a smaller reminder is already due, so this one would only repeat it."""
    too_late = "too_late"
    """Booked late: the start is closer than `AVISA_MIN_LEAD`, too late for any reminder."""
    opted_out = "opted_out"
    """The client opted out of this channel."""
    rescheduled = "rescheduled"
    """The appointment moved; a reminder for the new start replaces this one."""
    cancelled = "cancelled"
    completed = "completed"
    no_show = "no_show"


@dataclass(frozen=True)
class ReminderKind:
    """One configured reminder: `reminder_24h` is sent 24 hours before the start."""

    name: str
    offset: timedelta


@dataclass(frozen=True)
class ClientRecord:
    id: int
    name: str
    email: str | None
    phone: str | None
    whatsapp: str | None
    locale: str
    timezone: str
    channels: tuple[Channel, ...]
    opt_out: frozenset[Channel]
    created_at: datetime
    updated_at: datetime

    def recipient(self, channel: Channel) -> str | None:
        """The address this client is reached at on `channel`, if any."""
        return {
            Channel.email: self.email,
            Channel.sms: self.phone,
            Channel.whatsapp: self.whatsapp,
        }[channel]


@dataclass(frozen=True)
class AppointmentRecord:
    id: int
    client_id: int
    service: str
    staff: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: AppointmentStatus
    total_amount: Decimal
    paid_amount: Decimal
    currency: str
    external_id: str | None
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    appointment_id: int
    client_id: int
    kind: str
    channel: Channel
    recipient: str
    status: NotificationStatus
    due_at: datetime
    planned_start: datetime
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    provider: str | None
    provider_message_id: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
