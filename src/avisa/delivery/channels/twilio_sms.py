"""SMS through Twilio's Messages API.

`POST {base}/2010-04-01/Accounts/{sid}/Messages.json` with form fields `To`, `From` (or
`MessagingServiceSid`) and `Body`, Basic auth `sid:token`; 201 answers the message `sid`.
Errors carry Twilio's numeric code: 21211 (invalid To), 21610 (recipient opted out with
STOP), 21408/21612/21614 (cannot route) and 63016 (WhatsApp free text outside the 24 h
window) are permanent; 20429, HTTP 429 and 5xx are transient; any other 4xx is permanent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from avisa.delivery.channels import SecretSource
from avisa.delivery.channels.http import (
    ProviderClient,
    ProviderResponse,
    by_status,
    json_body,
    new_client,
    request,
    retry_after,
)
from avisa.delivery.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    scrub,
)
from avisa.delivery.message import OutgoingMessage

PERMANENT_CODES = frozenset({21211, 21408, 21610, 21612, 21614, 63016, 20003})
TRANSIENT_CODES = frozenset({20429, 30001, 63018})


@dataclass(frozen=True)
class TwilioConfig:
    """Where and as whom to send. One of `sender` and `messaging_service_sid` is needed."""

    account_sid: str
    base_url: str = "https://api.twilio.com"
    sender: str | None = None
    messaging_service_sid: str | None = None
    timeout: float = 10.0
    #: Where Twilio posts delivery receipts (`{AVISA_PUBLIC_URL}/webhooks/twilio/status`);
    #: without it Twilio sends receipts only if the number or service has a default URL.
    status_callback: str | None = None

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"


def twilio_error(response: ProviderResponse, secrets: tuple[str, ...]) -> DeliveryError:
    """Classify a non-2xx Twilio answer (see the module docstring)."""
    data = json_body(response)
    code = data.get("code")
    text = scrub(str(data.get("message") or f"HTTP {response.status_code}"), secrets)
    if isinstance(code, int) and code in PERMANENT_CODES:
        return PermanentDeliveryError(text, code=code)
    if isinstance(code, int) and code in TRANSIENT_CODES:
        return TransientDeliveryError(text, code=code, retry_after=retry_after(response))
    return by_status(response, text, code if code is not None else response.status_code)


class TwilioMessages:
    """Posts to Twilio's Messages API; shared by the SMS and WhatsApp transports."""

    def __init__(
        self, config: TwilioConfig, token: SecretSource, client: ProviderClient | None = None
    ) -> None:
        if not (config.sender or config.messaging_service_sid):
            raise ValueError("Twilio needs a sender number or a messaging service sid")
        self.config = config
        self._token = token
        self._client = client or new_client(config.timeout)

    def __repr__(self) -> str:
        return f"TwilioMessages({self.config.account_sid!r})"

    async def post(self, fields: dict[str, str]) -> str:
        """POST one message; returns its sid. Raises DeliveryError."""
        token = await self._token()
        if self.config.status_callback and "StatusCallback" not in fields:
            fields = {**fields, "StatusCallback": self.config.status_callback}
        response = await request(
            self._client,
            "POST",
            self.config.messages_url,
            data=fields,
            auth=(self.config.account_sid, token),
        )
        if response.status_code in (200, 201):
            sid: Any = json_body(response).get("sid")
            if isinstance(sid, str) and sid:
                return sid
            raise TransientDeliveryError("Twilio answered without a message sid")
        raise twilio_error(response, (token,))

    async def find(self, to: str, body: str, since: datetime) -> str | None:
        """The sid of a message to `to` with exactly `body`, created at or after `since`
        (Twilio's list, newest first, one page of `LOOKUP_PAGE`), or None. Raises
        DeliveryError."""
        token = await self._token()
        response = await request(
            self._client,
            "GET",
            self.config.messages_url,
            params={"To": to, "PageSize": str(LOOKUP_PAGE)},
            auth=(self.config.account_sid, token),
        )
        if response.status_code != 200:
            raise twilio_error(response, (token,))
        listed: Any = json_body(response).get("messages")
        # Twilio's dates have whole seconds: allow the one `since` falls in.
        floor = since.replace(microsecond=0)
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or item.get("body") != body:
                continue
            try:
                created = parsedate_to_datetime(str(item.get("date_created")))
            except (TypeError, ValueError):
                continue
            sid = item.get("sid")
            if created >= floor and isinstance(sid, str) and sid:
                return sid
        return None

    async def aclose(self) -> None:
        await self._client.aclose()


#: Messages read back per lookup: the newest to one recipient; ours is among them if sent.
LOOKUP_PAGE = 20


class TwilioSmsTransport:
    """SMS via Twilio: the body is the GSM-7-normalised text the renderer produced."""

    provider = "twilio"

    def __init__(self, messages: TwilioMessages) -> None:
        self.messages = messages

    def __repr__(self) -> str:
        return f"TwilioSmsTransport({self.messages!r})"

    @staticmethod
    def body(message: OutgoingMessage) -> str:
        return message.rendered.sms.text if message.rendered.sms else message.rendered.text

    async def find_sent(self, message: OutgoingMessage, since: datetime) -> str | None:
        """See `Reconciling`: Twilio keeps every message it accepted, with its body."""
        return await self.messages.find(message.recipient, self.body(message), since)

    async def send(self, message: OutgoingMessage) -> str:
        body = self.body(message)
        config = self.messages.config
        fields = {"To": message.recipient, "Body": body}
        if config.messaging_service_sid:
            fields["MessagingServiceSid"] = config.messaging_service_sid
        elif config.sender:
            fields["From"] = config.sender
        return await self.messages.post(fields)

    async def aclose(self) -> None:
        await self.messages.aclose()
