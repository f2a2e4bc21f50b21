"""What a transport is handed: one rendered notification, ready to send."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from avisa.delivery.gsm import SmsBody


@dataclass(frozen=True)
class Rendered:
    """A notification's text in the client's language.

    `text` is the plain body (email text part, WhatsApp console text, SMS before
    normalisation); `sms` is set for the SMS channel; `params` are the WhatsApp template's
    body parameters, in order.
    """

    text: str
    subject: str | None = None
    html: str | None = None
    sms: SmsBody | None = None
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutgoingMessage:
    """One notification to send. `recipient` is an email address or an E.164 number."""

    notification_id: int
    channel: str
    kind: str
    locale: str
    recipient: str
    rendered: Rendered
    #: When the message was made (the `Date` header), from the worker's clock.
    created_at: datetime
    #: The appointment as an iCalendar file (email only).
    ics: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
