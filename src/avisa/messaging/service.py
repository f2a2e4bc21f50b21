"""The messaging operations a webhook calls, each in its own transaction(s).

- `take_receipts`: record delivery receipts (one transaction).
- `take_message`: act on a reply (one transaction), then answer it in the client's
  language on the channel it came on, and write down how the answer went (a second,
  short transaction: the provider call happens between the two, holding no lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from avisa.messaging.answers import Answerer
from avisa.messaging.inbound import Handled, Outcome, handle_inbound, record_answer
from avisa.messaging.keywords import Keywords
from avisa.messaging.payloads import InboundMessage, Receipt
from avisa.messaging.receipts import ReceiptResult, record_receipt
from avisa.messaging.texts import AppointmentLine, answer_text
from avisa.services import Services

#: Outcomes that get no answer: a stranger's number, and a message already handled.
SILENT = frozenset({Outcome.unknown_sender, Outcome.duplicate})


def keywords_of(services: Services) -> Keywords:
    """The configured keywords (checked when the settings were loaded)."""
    s = services.settings
    return Keywords.of(s.confirm_keywords, s.cancel_keywords, s.stop_keywords)


async def take_receipts(services: Services, receipts: Sequence[Receipt]) -> list[ReceiptResult]:
    """Record `receipts` in one transaction; see `receipts.record_receipt`."""

    def work() -> list[ReceiptResult]:
        now = services.clock.now()
        with services.engine.begin() as conn:
            return [record_receipt(conn, r, now) for r in receipts]

    return await asyncio.to_thread(work)


async def take_message(
    services: Services, message: InboundMessage, answerer: Answerer
) -> tuple[Handled, str | None]:
    """Act on `message` and answer it; returns what was done and the answer's text
    (None when no answer is due). Raises database errors only."""
    keywords = keywords_of(services)
    settings = services.settings

    def act() -> Handled:
        with services.engine.begin() as conn:
            return handle_inbound(conn, message, keywords, settings, services.clock.now())

    handled = await asyncio.to_thread(act)
    if handled.inbound_id is None or handled.outcome in SILENT or handled.client is None:
        return handled, None
    appointment = handled.appointment
    line = (
        AppointmentLine(
            client_name=handled.client.name,
            service=appointment.service,
            starts_at=appointment.starts_at,
            timezone=appointment.timezone,
            status=appointment.status.value,
        )
        if appointment is not None
        else None
    )
    text = answer_text(
        handled.outcome.value,
        handled.client.locale,
        channel=message.channel.value,
        appointment=line,
        keywords=(
            settings.confirm_keywords[0],
            settings.cancel_keywords[0],
            settings.stop_keywords[0],
        ),
    )
    result = await answerer.send(message.channel.value, message.from_number, text)
    inbound_id = handled.inbound_id

    def note() -> None:
        with services.engine.begin() as conn:
            record_answer(
                conn,
                inbound_id,
                text=text,
                status=result.status,
                message_id=result.message_id,
                error=result.error,
                now=services.clock.now(),
            )

    await asyncio.to_thread(note)
    return handled, text
