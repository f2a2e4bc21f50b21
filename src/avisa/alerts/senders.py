"""Where alerts go: email over SMTP and a webhook, each configured, each optional.

Email uses the delivery package's SMTP configuration (`AVISA_SMTP_URL`, `AVISA_EMAIL_FROM`,
vault secret `SMTP_PASSWORD`) and its error classification; the webhook URL is vault
secret `ALERT_WEBHOOK_URL` (such URLs often embed a token, so it is never shown or
logged). The webhook body carries a `text` field, so a Slack or Mattermost incoming
webhook shows it as is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import httpx

from avisa.alerts.rules import Alert
from avisa.delivery.channels.email import SmtpConfig, smtp_send
from avisa.delivery.errors import DeliveryError, scrub
from avisa.errors import AvisaError

# Vault secret names, not values.
WEBHOOK_SECRET = "ALERT_WEBHOOK_URL"  # noqa: S105
SMTP_PASSWORD = "SMTP_PASSWORD"  # noqa: S105
TIMEOUT = 10.0

SecretSource = Callable[[], Awaitable[str]]


class AlertDeliveryError(Exception):
    """An alert could not be handed over; the text is short and holds no credential."""


class AlertSender(Protocol):
    name: str

    async def send(self, alert: Alert, dashboard_url: str) -> None:
        """Deliver `alert`. Raises AlertDeliveryError."""
        ...


def alert_text(alert: Alert, dashboard_url: str) -> str:
    """The human text of an alert (email body, webhook `text`)."""
    lines = [
        f"[avisa] {alert.title}",
        "",
        alert.detail,
        "",
        f"at {alert.at:%Y-%m-%d %H:%M:%SZ}, failing since {alert.since:%Y-%m-%d %H:%M:%SZ}"
        if alert.kind == "failure"
        else f"at {alert.at:%Y-%m-%d %H:%M:%SZ}",
        f"dashboard: {dashboard_url}",
    ]
    return "\n".join(lines)


class EmailAlerts:
    """One message per alert to the configured addresses."""

    name = "email"

    def __init__(
        self, config: SmtpConfig, recipients: list[str], password: SecretSource | None
    ) -> None:
        self.config = config
        self.recipients = recipients
        self._password = password

    def __repr__(self) -> str:
        return f"EmailAlerts({self.config.host}:{self.config.port}, {len(self.recipients)} to)"

    async def send(self, alert: Alert, dashboard_url: str) -> None:
        config = self.config
        message = EmailMessage()
        message["From"] = config.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = f"[avisa] {alert.title}"
        message["Date"] = format_datetime(alert.at)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(alert_text(alert, dashboard_url))
        try:
            password = await self._password() if self._password and config.username else None
        except AvisaError as exc:  # the vault is sealed, or SMTP_PASSWORD is missing
            raise AlertDeliveryError(f"email: {exc}") from None
        try:
            await smtp_send(config, message, password)
        except DeliveryError as exc:
            raise AlertDeliveryError(f"email: {exc}") from None


class WebhookAlerts:
    """A JSON POST per alert; any 2xx answer is a delivery."""

    name = "webhook"

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = url
        self._transport = transport

    def __repr__(self) -> str:
        # The URL may hold a token: never in a repr.
        return "WebhookAlerts(<url in vault>)"

    async def send(self, alert: Alert, dashboard_url: str) -> None:
        body: dict[str, Any] = {
            "event": f"avisa.alert.{alert.kind.value}",
            "subject": alert.subject,
            "kind": alert.kind.value,
            "repeated": alert.repeated,
            "detail": alert.detail,
            "at": alert.at.isoformat(),
            "since": alert.since.isoformat(),
            "dashboard_url": dashboard_url,
            "text": alert_text(alert, dashboard_url),
        }
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT, transport=self._transport) as client:
                answer = await client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            raise AlertDeliveryError(f"webhook: request failed ({type(exc).__name__})") from None
        if not answer.is_success:
            text = scrub(answer.text[:120], (self._url,))
            raise AlertDeliveryError(f"webhook: answered HTTP {answer.status_code} {text}".strip())
