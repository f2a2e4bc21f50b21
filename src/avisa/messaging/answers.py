"""Sending an answer back to a client who wrote to us, on the channel they used.

A reply opens WhatsApp's 24 h customer-service window, so the answer may be free text on
WhatsApp as on SMS (no template). It goes through the configured provider of that
channel:

- Twilio (SMS or WhatsApp): the delivery package's `TwilioMessages.post` with a `Body`;
- Meta: a `type: text` message to the Cloud API, through the delivery package's HTTP
  helpers (its transport sends templates only);
- console: nothing leaves the machine; the answer is kept in the `inbound_messages` row
  with status `recorded` (the console outbox is keyed by notification, and an answer is
  not one).

Failures never raise: they become `AnswerResult(status="failed", error=...)`, recorded on
the inbound row — the reply itself was acted on whatever happens to the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from avisa.clock import Clock
from avisa.config import Settings, SmsProvider, WhatsappProvider
from avisa.delivery.channels.http import new_client
from avisa.delivery.channels.meta_whatsapp import MetaConfig, post_message
from avisa.delivery.channels.twilio_sms import TwilioConfig, TwilioMessages
from avisa.delivery.channels.twilio_whatsapp import whatsapp_address
from avisa.delivery.errors import DeliveryError
from avisa.delivery.gsm import sms_body
from avisa.delivery.runtime import VaultSecret
from avisa.vault.service import Vault

#: `inbound_messages.answer_status` values.
SENT, RECORDED, FAILED = "sent", "recorded", "failed"


@dataclass(frozen=True)
class AnswerResult:
    status: str
    provider: str
    message_id: str | None = None
    error: str | None = None


class Answerer:
    """Sends free-text answers through the provider configured for each channel."""

    def __init__(self, settings: Settings, vault: Vault, clock: Clock) -> None:
        self.settings = settings
        self.vault = vault
        self.clock = clock

    def __repr__(self) -> str:
        s = self.settings
        return f"Answerer(sms={s.sms_provider}, whatsapp={s.whatsapp_provider})"

    def provider(self, channel: str) -> str:
        """The provider that carries answers on `channel` (`console` when none is set up)."""
        s = self.settings
        if channel == "sms" and s.sms_provider == SmsProvider.twilio:
            return "twilio"
        if channel == "whatsapp" and s.whatsapp_provider != WhatsappProvider.console:
            return s.whatsapp_provider.value
        return "console"

    async def send(self, channel: str, to: str, text: str) -> AnswerResult:
        """Send `text` to `to` (E.164) on `channel`; never raises (see the module docstring)."""
        provider = self.provider(channel)
        if provider == "console":
            return AnswerResult(RECORDED, provider)
        try:
            if provider == "meta":
                message_id = await self._meta(to, text)
            else:
                message_id = await self._twilio(channel, to, text)
        except DeliveryError as exc:
            return AnswerResult(FAILED, provider, error=str(exc))
        except ValueError as exc:
            # A provider set up without its sender: the configuration says what is missing.
            return AnswerResult(FAILED, provider, error=f"provider not configured: {exc}")
        return AnswerResult(SENT, provider, message_id=message_id)

    def _secret(self, name: str) -> VaultSecret:
        return VaultSecret(self.vault, name, self.clock, ttl=0.0)

    async def _twilio(self, channel: str, to: str, text: str) -> str:
        s = self.settings
        if channel == "whatsapp":
            config = TwilioConfig(
                account_sid=str(s.twilio_account_sid),
                base_url=s.twilio_base_url,
                sender=s.whatsapp_from,
            )
            fields = {
                "To": whatsapp_address(to),
                "From": whatsapp_address(str(s.whatsapp_from)),
                "Body": text,
            }
        else:
            config = TwilioConfig(
                account_sid=str(s.twilio_account_sid),
                base_url=s.twilio_base_url,
                sender=s.twilio_from,
                messaging_service_sid=s.twilio_messaging_service_sid,
            )
            fields = {"To": to, "Body": sms_body(text).text}
            if config.messaging_service_sid:
                fields["MessagingServiceSid"] = config.messaging_service_sid
            else:
                fields["From"] = str(config.sender)
        messages = TwilioMessages(config, self._secret("TWILIO_AUTH_TOKEN"))
        try:
            return await messages.post(fields)
        finally:
            await messages.aclose()

    async def _meta(self, to: str, text: str) -> str:
        s = self.settings
        config = MetaConfig(phone_number_id=str(s.meta_phone_number_id), base_url=s.meta_base_url)
        token = await self._secret("WHATSAPP_ACCESS_TOKEN")()
        content = {"type": "text", "text": {"preview_url": False, "body": text}}
        async with new_client(config.timeout) as client:
            return await post_message(client, config, token, to, content)
