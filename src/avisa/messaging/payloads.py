"""What the providers post to the webhooks, read into avisa's two shapes.

- Twilio posts forms: status callbacks (`MessageSid`, `MessageStatus`, `ErrorCode`) and
  inbound messages (`MessageSid`, `From`, `To`, `Body`; WhatsApp numbers carry a
  `whatsapp:` prefix).
- Meta posts JSON: `entry[].changes[].value` with `statuses[]` (receipts) and
  `messages[]` (inbound; text, or a template's quick-reply button).

Parsers raise `PayloadError` (HTTP 400) for a payload missing what identifies it; fields
that are merely unknown are ignored, as providers add fields over time.
Pure: no database, no web.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from avisa.domain.model import Channel
from avisa.errors import AvisaError


class PayloadError(AvisaError):
    """A signed webhook whose body lacks what identifies its message (HTTP 400)."""


@dataclass(frozen=True)
class Receipt:
    """One status callback, as the provider worded it."""

    provider: str
    provider_message_id: str
    provider_status: str
    error_code: str | None = None
    error_message: str | None = None
    provider_timestamp: datetime | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One message a client sent us, as the webhook read it."""

    provider: str
    provider_message_id: str
    channel: Channel
    from_number: str
    to_number: str | None
    body: str
    provider_timestamp: datetime | None = None


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise PayloadError(f"the callback has no {name}")
    return value


def twilio_receipt(form: Mapping[str, str]) -> Receipt:
    """A Twilio status callback; raises PayloadError without `MessageSid`/`MessageStatus`."""
    return Receipt(
        provider="twilio",
        provider_message_id=_required(form, "MessageSid"),
        provider_status=_required(form, "MessageStatus").lower(),
        error_code=form.get("ErrorCode") or None,
        error_message=form.get("ErrorMessage") or None,
    )


def twilio_inbound(form: Mapping[str, str]) -> InboundMessage:
    """A Twilio inbound SMS or WhatsApp message; raises PayloadError without its sid or
    sender."""
    sender = _required(form, "From")
    whatsapp = sender.startswith("whatsapp:")
    return InboundMessage(
        provider="twilio",
        provider_message_id=_required(form, "MessageSid"),
        channel=Channel.whatsapp if whatsapp else Channel.sms,
        from_number=sender.removeprefix("whatsapp:"),
        to_number=form.get("To", "").removeprefix("whatsapp:") or None,
        body=form.get("Body", ""),
    )


def _instant(value: Any) -> datetime | None:
    """Meta's timestamps are Unix seconds, as text."""
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def meta_events(payload: Any) -> tuple[list[Receipt], list[InboundMessage]]:
    """The receipts and messages of a Meta webhook body (either list may be empty).

    Raises PayloadError when the body is not a webhook object, or a status or message in
    it has no id.
    """
    if not isinstance(payload, dict):
        raise PayloadError("the webhook body is not a JSON object")
    receipts: list[Receipt] = []
    messages: list[InboundMessage] = []
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata")
            metadata = metadata if isinstance(metadata, dict) else {}
            ours = str(metadata.get("display_phone_number") or "") or None
            receipts += [_meta_receipt(s) for s in _dicts(value.get("statuses"))]
            messages += [_meta_message(m, ours) for m in _dicts(value.get("messages"))]
    return receipts, messages


def _meta_receipt(status: dict[str, Any]) -> Receipt:
    wamid, word = str(status.get("id") or ""), str(status.get("status") or "")
    if not wamid or not word:
        raise PayloadError("a status has no id or status")
    errors = _dicts(status.get("errors"))
    first = errors[0] if errors else {}
    code = first.get("code")
    text = first.get("title") or first.get("message")
    return Receipt(
        provider="meta",
        provider_message_id=wamid,
        provider_status=word.lower(),
        error_code=str(code) if code is not None else None,
        error_message=str(text) if text else None,
        provider_timestamp=_instant(status.get("timestamp")),
    )


def _meta_message(message: dict[str, Any], ours: str | None) -> InboundMessage:
    wamid, sender = str(message.get("id") or ""), str(message.get("from") or "")
    if not wamid or not sender:
        raise PayloadError("a message has no id or sender")
    kind = str(message.get("type") or "")
    body = ""
    if kind == "text" and isinstance(message.get("text"), dict):
        body = str(message["text"].get("body") or "")
    elif kind == "button" and isinstance(message.get("button"), dict):
        # A template's quick-reply button ("Confirmar") answers with its label.
        body = str(message["button"].get("text") or "")
    elif kind == "interactive" and isinstance(message.get("interactive"), dict):
        reply = message["interactive"].get("button_reply") or {}
        body = str(reply.get("title") or "") if isinstance(reply, dict) else ""
    else:
        # Images, audio, locations: recorded by kind; never read as a keyword.
        body = f"[{kind or 'unknown'}]"
    return InboundMessage(
        provider="meta",
        provider_message_id=wamid,
        channel=Channel.whatsapp,
        # Meta writes numbers as digits only; clients are stored in E.164.
        from_number="+" + sender.lstrip("+"),
        to_number=("+" + ours.lstrip("+")) if ours else None,
        body=body,
        provider_timestamp=_instant(message.get("timestamp")),
    )
