"""The shapes of clients, appointments and notifications at the edges (API and CSV).

`XCreate` / `XUpdate` are what callers send, `XPublic` what they get back. These models
check structure (types, lengths, known channels and statuses); checks that need settings
or other rows (phone region, currency decimals, paid within total) live in the services,
which raise `InvalidFieldError` naming the field.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from avisa.domain.model import AppointmentStatus, Channel, NotificationStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
T = TypeVar("T")
#: Row ids are 32-bit on both databases; a larger number can only be a mistake.
MAX_ID = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=3)]


class _Input(BaseModel):
    # Unknown fields are refused so that a typo ("start_at") is an error, not a silent no-op.
    model_config = ConfigDict(extra="forbid")


class ClientCreate(_Input):
    name: Name
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    whatsapp: Annotated[str, StringConstraints(max_length=40)] | bool | None = Field(
        default=None,
        description="A WhatsApp number, or true to use `phone` for WhatsApp too.",
    )
    locale: Literal["es", "en"] | None = None
    timezone: str | None = None
    channels: list[Channel] | None = Field(
        default=None,
        description="Preferred channels, in order; by default every channel with an address.",
    )
    opt_out: list[Channel] = Field(default_factory=list)


class ClientUpdate(_Input):
    name: Name | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    whatsapp: Annotated[str, StringConstraints(max_length=40)] | bool | None = None
    locale: Literal["es", "en"] | None = None
    timezone: str | None = None
    channels: list[Channel] | None = None
    opt_out: list[Channel] | None = None


class ClientPublic(BaseModel):
    id: int
    name: str
    email: str | None
    phone: str | None
    whatsapp: str | None
    locale: str
    timezone: str
    channels: list[Channel]
    opt_out: list[Channel]
    created_at: datetime
    updated_at: datetime


class AppointmentCreate(_Input):
    client_id: Id | None = None
    client: ClientCreate | None = None
    service: Name
    staff: Text | None = None
    location: Text | None = None
    starts_at: datetime = Field(description="With an offset, or wall-clock time in `timezone`.")
    ends_at: datetime
    timezone: str | None = Field(default=None, description="IANA zone; default the client's.")
    status: Literal["scheduled", "confirmed"] = "scheduled"
    total_amount: Amount = Decimal(0)
    paid_amount: Amount = Decimal(0)
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _one_client(self) -> Self:
        if (self.client_id is None) == (self.client is None):
            raise ValueError("give exactly one of client_id or client")
        return self


class AppointmentUpdate(_Input):
    service: Name | None = None
    staff: Text | None = None
    location: Text | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    total_amount: Amount | None = None
    paid_amount: Amount | None = None
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)] | None = None


class ReplyPublic(BaseModel):
    """A client's reply: what they wrote and what it did (`unrecognised`: not understood)."""

    received_at: datetime
    channel: Channel
    body: str
    outcome: str


class AppointmentPublic(BaseModel):
    """An appointment; instants are rendered in its own time zone."""

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
    confirmed_via: str | None = Field(
        default=None,
        description="`sms` or `whatsapp` when a client's reply confirmed it, `api` otherwise.",
    )
    last_reply: ReplyPublic | None = Field(
        default=None, description="The latest SMS or WhatsApp reply about it, if any."
    )


class NotificationPublic(BaseModel):
    """A planned, sent or skipped reminder; instants in the appointment's time zone."""

    id: int
    appointment_id: int
    kind: str
    channel: Channel
    recipient: str
    status: NotificationStatus
    due_at: datetime
    planned_start: datetime
    attempts: int
    reason: str | None
    last_error: str | None
    provider_message_id: str | None
    sent_at: datetime | None
    delivery_status: Literal["queued", "sent", "failed", "delivered", "read"] | None = Field(
        default=None, description="The furthest delivery receipt received from the provider."
    )
    delivered_at: datetime | None = None
    read_at: datetime | None = None


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None
