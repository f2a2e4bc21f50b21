"""Wiring delivery to a running avisa: settings and vault in, a `DeliveryWorker` out.

Only this module reads `Settings` and the vault; transports get explicit configuration
and a credential source. Credentials are read from the vault when first needed and kept
for `SECRET_TTL` seconds (one audit row per secret per period, not one per message); a
missing secret or a sealed vault is a transient delivery error, so reminders wait for
the operator instead of being dropped.
"""

from __future__ import annotations

import asyncio
import threading

import structlog

from avisa.background import LoopThread
from avisa.clock import Clock
from avisa.config import EmailProvider, Settings, SmsProvider, WhatsappProvider
from avisa.delivery.channels import Transport
from avisa.delivery.channels.console import ConsoleTransport
from avisa.delivery.channels.email import SmtpConfig, SmtpTransport
from avisa.delivery.channels.meta_whatsapp import MetaConfig, MetaWhatsappTransport
from avisa.delivery.channels.twilio_sms import TwilioConfig, TwilioMessages, TwilioSmsTransport
from avisa.delivery.channels.twilio_whatsapp import TwilioWhatsappTransport
from avisa.delivery.errors import CredentialUnavailableError
from avisa.delivery.ratelimit import RateLimits
from avisa.delivery.render import Renderer
from avisa.delivery.retry import RetryPolicy
from avisa.delivery.worker import DeliverySettings, DeliveryWorker
from avisa.errors import AvisaError, ConfigError
from avisa.services import Services
from avisa.vault.service import Vault

log = structlog.get_logger(__name__)

SECRET_TTL = 300.0


class VaultSecret:
    """An async credential source reading one vault secret.

    The value is read from the vault when first needed and kept for `ttl` seconds (one
    audit row per period, not one per message), but only while the vault stays unsealed:
    every call first checks the root key (a `stat` when nothing changed), so removing the
    key stops sends at once. A failed read is not retried for a while (1 s, doubling to
    `MAX_BLOCK`), so thousands of due messages do not hammer a sealed vault.
    """

    MAX_BLOCK = 10.0

    def __init__(self, vault: Vault, name: str, clock: Clock, ttl: float = SECRET_TTL) -> None:
        self.vault = vault
        self.name = name
        self.clock = clock
        self.ttl = ttl
        self._value: str | None = None
        self._read_at = 0.0
        self._blocked_until = 0.0
        self._block = 0.0
        self._failure = ""
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VaultSecret({self.name!r})"

    async def __call__(self) -> str:
        """The value. Raises CredentialUnavailableError when missing or the vault is
        sealed (its text names the fix, never a value)."""
        now = self.clock.monotonic()
        with self._lock:
            if now < self._blocked_until:
                raise CredentialUnavailableError(
                    self._failure, retry_after=self._blocked_until - now
                )
        try:
            # Sealed since the last read? Then the cached value must not be used either.
            self.vault.keystore.keyring()
            with self._lock:
                if self._value is not None and now - self._read_at < self.ttl:
                    return self._value
            value = await asyncio.to_thread(self.vault.get_secret, self.name)
        except AvisaError as exc:
            with self._lock:
                self._value = None
                self._block = min(self.MAX_BLOCK, max(1.0, self._block * 2))
                self._blocked_until = self.clock.monotonic() + self._block
                self._failure = f"credential {self.name} unavailable: {exc}"
                raise CredentialUnavailableError(self._failure, retry_after=self._block) from None
        with self._lock:
            self._value, self._read_at, self._block = value, self.clock.monotonic(), 0.0
        return value


def _need(settings: Settings, channel: str, **values: str | None) -> None:
    missing = [f"AVISA_{name.upper()}" for name, value in values.items() if not value]
    if missing:
        raise ConfigError(
            f"the {channel} provider needs {', '.join(missing)}",
            fix="set it in the environment or .env, or use the console provider",
        )


def build_transports(services: Services) -> dict[str, Transport]:
    """One transport per channel, as configured. Raises ConfigError for a provider that
    lacks its settings (checked at start, so a typo stops the process with one line)."""
    s = services.settings
    vault = services.vault.with_actor("scheduler")
    clock = services.clock
    console = ConsoleTransport(services.engine, s.data_dir / "outbox")
    transports: dict[str, Transport] = {"email": console, "sms": console, "whatsapp": console}
    if s.email_provider == EmailProvider.smtp:
        _need(s, "email", smtp_url=s.smtp_url, email_from=s.email_from)
        try:
            config = SmtpConfig.from_url(str(s.smtp_url), str(s.email_from))
        except ValueError as exc:
            raise ConfigError(f"invalid AVISA_SMTP_URL: {exc}") from None
        transports["email"] = SmtpTransport(config, VaultSecret(vault, "SMTP_PASSWORD", clock))
    twilio_token = VaultSecret(vault, "TWILIO_AUTH_TOKEN", clock)
    if s.sms_provider == SmsProvider.twilio:
        _need(s, "sms", twilio_account_sid=s.twilio_account_sid)
        if not (s.twilio_from or s.twilio_messaging_service_sid):
            _need(s, "sms", twilio_from=None)
        transports["sms"] = TwilioSmsTransport(
            TwilioMessages(
                TwilioConfig(
                    account_sid=str(s.twilio_account_sid),
                    base_url=s.twilio_base_url,
                    sender=s.twilio_from,
                    messaging_service_sid=s.twilio_messaging_service_sid,
                    status_callback=f"{s.public_url}/webhooks/twilio/status",
                ),
                twilio_token,
            )
        )
    if s.whatsapp_provider == WhatsappProvider.twilio:
        _need(s, "whatsapp", twilio_account_sid=s.twilio_account_sid, whatsapp_from=s.whatsapp_from)
        messages = TwilioMessages(
            TwilioConfig(
                account_sid=str(s.twilio_account_sid),
                base_url=s.twilio_base_url,
                sender=s.whatsapp_from,
                status_callback=f"{s.public_url}/webhooks/twilio/status",
            ),
            twilio_token,
        )
        transports["whatsapp"] = TwilioWhatsappTransport(
            messages, str(s.whatsapp_from), s.whatsapp_templates
        )
    elif s.whatsapp_provider == WhatsappProvider.meta:
        _need(s, "whatsapp", meta_phone_number_id=s.meta_phone_number_id)
        transports["whatsapp"] = MetaWhatsappTransport(
            MetaConfig(phone_number_id=str(s.meta_phone_number_id), base_url=s.meta_base_url),
            VaultSecret(vault, "WHATSAPP_ACCESS_TOKEN", clock),
            s.whatsapp_templates,
        )
    return transports


def delivery_settings(settings: Settings) -> DeliverySettings:
    """The worker's settings; the queue holds no more than the slowest rate limit can send
    in half a lease, so held claims do not outlive their lease while they wait."""
    depth = 128
    for messages, period in settings.rate_limits.values():
        depth = min(depth, int(messages / period * settings.delivery_lease.total_seconds() / 2))
    return DeliverySettings(
        queue_depth=max(1, depth),
        lease=settings.delivery_lease,
        poll_interval=settings.delivery_poll_interval,
        concurrency=settings.delivery_concurrency,
        retry=RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base=settings.delivery_backoff,
            cap=settings.delivery_backoff_max,
        ),
    )


def build_delivery_worker(
    services: Services,
    *,
    limits: RateLimits | None = None,
    transports: dict[str, Transport] | None = None,
) -> DeliveryWorker:
    """A worker for `services`. Pass `limits` to share one rate budget between several
    workers of this process. Raises ConfigError (see `build_transports`)."""
    s = services.settings
    return DeliveryWorker(
        services.engine,
        services.clock,
        transports if transports is not None else build_transports(services),
        Renderer(s.templates_dir, default_locale=s.default_locale),
        limits or RateLimits.configured(s.rate_limits, services.clock),
        delivery_settings(s),
    )


class DeliveryThread(LoopThread):
    """A delivery worker on its own thread and event loop (`avisa serve`, `avisa worker`).

    Sends never compete with HTTP requests or scheduler ticks for an event loop.
    """

    def __init__(self, worker: DeliveryWorker) -> None:
        super().__init__("avisa-delivery", worker.run, "delivery_thread_crashed")
        self.worker = worker

    def __repr__(self) -> str:
        return f"DeliveryThread({self.worker!r})"
