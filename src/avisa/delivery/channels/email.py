"""Email over SMTP (aiosmtplib): multipart text + HTML, the appointment as `.ics`.

`smtp://user@host:587` uses STARTTLS (required), `smtps://user@host:465` implicit TLS,
`?starttls=0` a plain connection for a local relay. The password comes from the vault.
The `Message-ID` is derived from the notification id, so a message retried after a lost
answer carries the same id and receiving systems can drop the duplicate.
SMTP replies 4xx are transient, 5xx permanent; network failures are transient.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from avisa.delivery.channels import SecretSource
from avisa.delivery.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    scrub,
)
from avisa.delivery.message import OutgoingMessage


@dataclass(frozen=True)
class SmtpConfig:
    """An SMTP server and the sender address. Build it from a URL with `from_url`."""

    host: str
    port: int
    sender: str
    username: str | None = None
    use_tls: bool = False
    start_tls: bool = True
    timeout: float = 30.0
    #: Name for the `.ics` attachment.
    ics_filename: str = "appointment.ics"

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpConfig:
        """Parse `smtp://user@host:587`, `smtps://user@host:465`, `smtp://host:25?starttls=0`.

        Raises ValueError for another scheme or a URL without a host. A password in the
        URL is refused: it belongs in the vault (`SMTP_PASSWORD`).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("AVISA_SMTP_URL must look like smtp://user@host:587 or smtps://…")
        if parts.password:
            raise ValueError("put the SMTP password in the vault (SMTP_PASSWORD), not the URL")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        start_tls = not implicit and query.get("starttls", ["1"])[0] not in ("0", "false", "no")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            sender=sender,
            username=unquote(parts.username) if parts.username else None,
            use_tls=implicit,
            start_tls=start_tls,
        )


def message_id(notification_id: int, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "avisa.invalid"
    return f"<notification-{notification_id}.avisa@{domain}>"


def build_email(message: OutgoingMessage, sender: str, ics_filename: str) -> EmailMessage:
    """The MIME message: multipart/mixed of (text | html) and the `.ics`, if any."""
    rendered = message.rendered
    email = EmailMessage()
    email["From"] = sender
    email["To"] = formataddr(("", message.recipient))
    email["Subject"] = rendered.subject or ""
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id(message.notification_id, sender)
    email["Content-Language"] = message.locale
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(rendered.text)
    if rendered.html:
        email.add_alternative(rendered.html, subtype="html")
    if message.ics:
        email.add_attachment(
            message.ics,
            maintype="text",
            subtype="calendar",
            filename=ics_filename,
            params={"method": "PUBLISH"},
        )
    return email


def smtp_error(exc: aiosmtplib.SMTPException, secrets: tuple[str, ...]) -> DeliveryError:
    """4xx transient, 5xx permanent; connection trouble transient."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        codes = [r.code for r in exc.recipients]
        worst = max(codes)
        text = scrub(exc.recipients[0].message, secrets)
        cls = PermanentDeliveryError if worst >= 500 else TransientDeliveryError
        return cls(f"recipient refused: {text}", code=worst)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        text = scrub(exc.message, secrets)
        cls = PermanentDeliveryError if exc.code >= 500 else TransientDeliveryError
        return cls(text, code=exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentDeliveryError(f"the SMTP server does not support it: {exc}")
    return TransientDeliveryError(f"SMTP connection failed ({type(exc).__name__})")


async def smtp_send(config: SmtpConfig, email: EmailMessage, password: str | None) -> None:
    """Hand `email` to `config`'s server, logging in when a password is given (reminders
    and alerts both send this way). Raises DeliveryError: the server's refusal (its text
    scrubbed of the password) or a transient connection failure."""
    try:
        await aiosmtplib.send(
            email,
            hostname=config.host,
            port=config.port,
            username=config.username if password else None,
            password=password,
            use_tls=config.use_tls,
            start_tls=config.start_tls,
            timeout=config.timeout,
        )
    except aiosmtplib.SMTPException as exc:
        raise smtp_error(exc, (password,) if password else ()) from None
    except OSError as exc:
        raise TransientDeliveryError(f"SMTP connection failed ({type(exc).__name__})") from None


class SmtpTransport:
    """One connection per message: reminders are spread over time, not bulk mail."""

    provider = "smtp"

    def __init__(self, config: SmtpConfig, password: SecretSource | None) -> None:
        self.config = config
        self._password = password

    def __repr__(self) -> str:
        return f"SmtpTransport({self.config.host}:{self.config.port})"

    async def send(self, message: OutgoingMessage) -> str:
        config = self.config
        email = build_email(message, config.sender, config.ics_filename)
        password = await self._password() if self._password and config.username else None
        await smtp_send(config, email, password)
        return str(email["Message-ID"]).strip("<>")

    async def aclose(self) -> None:
        return None
