"""WhatsApp through Twilio: approved templates only.

A business may send free text only inside the 24 h window opened by the client's last
message; a reminder is business-initiated, so it is always a template: `ContentSid` (the
approved template for the reminder kind and locale) and `ContentVariables` (`{"1": name,
"2": service, "3": when}`), never a `Body`. Both numbers carry the `whatsapp:` prefix.
"""

from __future__ import annotations

import json

from avisa.delivery.channels import template_for
from avisa.delivery.channels.twilio_sms import TwilioMessages
from avisa.delivery.errors import PermanentDeliveryError
from avisa.delivery.message import OutgoingMessage


def whatsapp_address(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioWhatsappTransport:
    """`templates` maps reminder kind (or `*`) to {locale: ContentSid}."""

    provider = "twilio"

    def __init__(
        self, messages: TwilioMessages, sender: str, templates: dict[str, dict[str, str]]
    ) -> None:
        self.messages = messages
        self.sender = whatsapp_address(sender)
        self.templates = templates

    def __repr__(self) -> str:
        return f"TwilioWhatsappTransport({self.messages!r})"

    async def send(self, message: OutgoingMessage) -> str:
        """Raises PermanentDeliveryError when no template is configured for the message."""
        content_sid = template_for(self.templates, message.kind, message.locale)
        if content_sid is None:
            raise PermanentDeliveryError(
                f"no WhatsApp template for {message.kind} in {message.locale!r} "
                "(set AVISA_WHATSAPP_TEMPLATES)"
            )
        variables = {str(i): value for i, value in enumerate(message.rendered.params, start=1)}
        return await self.messages.post(
            {
                "To": whatsapp_address(message.recipient),
                "From": self.sender,
                "ContentSid": content_sid,
                "ContentVariables": json.dumps(variables, ensure_ascii=False),
            }
        )

    async def aclose(self) -> None:
        await self.messages.aclose()
