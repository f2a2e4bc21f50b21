"""WhatsApp through Meta's Cloud API: approved templates only.

`POST {base}/{phone_number_id}/messages` with a bearer token and
`{"messaging_product": "whatsapp", "to": …, "type": "template", "template": {"name": …,
"language": {"code": …}, "components": [{"type": "body", "parameters": [...]}]}}`.
Errors carry Meta's code: 131047 (re-engagement: outside the 24 h window), 131026
(undeliverable), 131051 (unsupported type), 132000/132001 (template parameters / name
unknown), 100 (invalid parameter) and 190 (token) are permanent; 4/80007/130429/131048/
131056 (rate limits), 1/2/131000/131016 (service) and any 429 or 5xx are transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avisa.delivery.channels import SecretSource, template_for
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

PERMANENT_CODES = frozenset({100, 190, 131026, 131047, 131051, 132000, 132001, 132005})
TRANSIENT_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056})


@dataclass(frozen=True)
class MetaConfig:
    phone_number_id: str
    base_url: str = "https://graph.facebook.com/v21.0"
    timeout: float = 10.0

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.phone_number_id}/messages"


async def post_message(
    client: ProviderClient, config: MetaConfig, token: str, to: str, content: dict[str, Any]
) -> str:
    """Send one message (`content`: its `type` and that type's object) to `to` (E.164);
    returns Meta's message id (`wamid`). Reminders and answers to replies both send this
    way. Raises DeliveryError."""
    payload = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.removeprefix("+"),
        **content,
    }
    response = await request(
        client,
        "POST",
        config.messages_url,
        json=payload,
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code not in (200, 201):
        raise meta_error(response, (token,))
    messages: Any = json_body(response).get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        wamid = messages[0].get("id")
        if isinstance(wamid, str) and wamid:
            return wamid
    raise TransientDeliveryError("Meta answered without a message id")


def meta_error(response: ProviderResponse, secrets: tuple[str, ...]) -> DeliveryError:
    """Classify a non-2xx Cloud API answer (see the module docstring)."""
    error: Any = json_body(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    text = scrub(str(error.get("message") or f"HTTP {response.status_code}"), secrets)
    if isinstance(code, int) and code in PERMANENT_CODES:
        return PermanentDeliveryError(text, code=code)
    if isinstance(code, int) and code in TRANSIENT_CODES:
        return TransientDeliveryError(text, code=code, retry_after=retry_after(response))
    return by_status(response, text, code if code is not None else response.status_code)


class MetaWhatsappTransport:
    """`templates` maps reminder kind (or `*`) to {locale: template name}; the locale is
    the template's language code."""

    provider = "meta"

    def __init__(
        self,
        config: MetaConfig,
        token: SecretSource,
        templates: dict[str, dict[str, str]],
        client: ProviderClient | None = None,
    ) -> None:
        self.config = config
        self.templates = templates
        self._token = token
        self._client = client or new_client(config.timeout)

    def __repr__(self) -> str:
        return f"MetaWhatsappTransport({self.config.phone_number_id!r})"

    async def send(self, message: OutgoingMessage) -> str:
        """Raises PermanentDeliveryError when no template is configured for the message."""
        name = template_for(self.templates, message.kind, message.locale)
        if name is None:
            raise PermanentDeliveryError(
                f"no WhatsApp template for {message.kind} in {message.locale!r} "
                "(set AVISA_WHATSAPP_TEMPLATES)"
            )
        content = {
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": message.locale},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": value} for value in message.rendered.params
                        ],
                    }
                ],
            },
        }
        token = await self._token()
        return await post_message(self._client, self.config, token, message.recipient, content)

    async def aclose(self) -> None:
        await self._client.aclose()
