"""Configuration: the `AVISA_` environment variables of DESIGN.md, also read from `.env`.

`load_settings()` is the only way to build settings; nothing is read at import time. An
invalid value raises `ConfigError` whose message names the variable and what is wrong, so
an entry point can stop with one line.
"""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from avisa.errors import ConfigError
from avisa.messaging.keywords import (
    DEFAULT_CANCEL,
    DEFAULT_CONFIRM,
    DEFAULT_STOP,
    Keywords,
    parse_keywords,
)

SUPPORTED_LOCALES = ("es", "en")

_OFFSET_RE = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_OFFSET_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class EmailProvider(StrEnum):
    console = "console"
    smtp = "smtp"


class SmsProvider(StrEnum):
    console = "console"
    twilio = "twilio"


class WhatsappProvider(StrEnum):
    console = "console"
    twilio = "twilio"
    meta = "meta"


def parse_offset(text: str) -> timedelta:
    """Parse one reminder offset such as `24h`, `90m`, `2d` into a positive timedelta.

    Raises ValueError with a readable message for anything else.
    """
    match = _OFFSET_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text.strip()!r} is not a positive duration like 24h, 90m or 2d")
    return timedelta(**{_OFFSET_UNITS[match.group(2)]: int(match.group(1))})


def offset_label(offset: timedelta) -> str:
    """The reminder kind suffix for an offset: 24h -> `24h`, 90m -> `90m`, 2d -> `2d`."""
    seconds = int(offset.total_seconds())
    # Hours up to a day read best ("reminder_24h"); whole days beyond that ("reminder_2d").
    if seconds % 86400 == 0 and seconds > 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


#: Transitions the status updater may make: from an open status to a final one.
STATUS_UPDATER_SOURCES = ("scheduled", "confirmed")
STATUS_UPDATER_TARGETS = ("completed", "no_show")


def parse_status_mapping(text: str) -> tuple[tuple[str, str], ...]:
    """Parse `confirmed:completed,scheduled:no_show` into (from, to) pairs.

    Raises ValueError naming the bad pair: sources are open statuses, targets final ones,
    and each source appears once.
    """
    pairs: list[tuple[str, str]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        source, _, target = (x.strip() for x in part.partition(":"))
        if source not in STATUS_UPDATER_SOURCES or target not in STATUS_UPDATER_TARGETS:
            raise ValueError(
                f"{part!r} is not a transition like confirmed:completed "
                f"(from {'/'.join(STATUS_UPDATER_SOURCES)} to {'/'.join(STATUS_UPDATER_TARGETS)})"
            )
        if any(source == seen for seen, _ in pairs):
            raise ValueError(f"{source!r} is mapped twice")
        pairs.append((source, target))
    return tuple(pairs)


_RATE_RE = re.compile(r"^\s*([a-z_]+)\s*=\s*(\d+)\s*/\s*([smh])\s*$")
_RATE_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate_limits(text: str) -> dict[str, tuple[int, float]]:
    """Parse `twilio=10/s,smtp=100/m` into {provider: (messages, period in seconds)}.

    Raises ValueError naming the bad part.
    """
    limits: dict[str, tuple[int, float]] = {}
    for part in (p for p in text.split(",") if p.strip()):
        match = _RATE_RE.match(part)
        if not match or int(match.group(2)) == 0:
            raise ValueError(f"{part.strip()!r} is not a limit like twilio=10/s or smtp=100/m")
        limits[match.group(1)] = (int(match.group(2)), _RATE_PERIODS[match.group(3)])
    return limits


class Settings(BaseSettings):
    """All of avisa's configuration. Build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="AVISA_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Path(".avisa")
    database_url: str | None = None
    #: Connections each process keeps open to the database, and how many more it may open
    #: under load; a process never holds more than the sum (docs/deploy.md sizes them).
    db_pool_size: int = Field(default=5, ge=1, le=1000)
    db_max_overflow: int = Field(default=10, ge=0, le=1000)
    #: Seconds a new PostgreSQL connection may take: a server that accepts the TCP
    #: connection and never answers (a partition, a hung host) fails the attempt, which
    #: the workers back off and retry, instead of hanging them.
    db_connect_timeout: int = Field(default=10, ge=1, le=600)
    root_key: SecretStr | None = None
    root_key_file: Path | None = None
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    reminder_offsets: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=24),
        timedelta(hours=1),
    )
    default_timezone: str = "UTC"
    default_locale: Literal["es", "en"] = "es"
    default_region: str = "ES"
    default_currency: str = "EUR"
    min_lead: timedelta = timedelta(minutes=10)
    reminder_horizon: timedelta = timedelta(hours=2)
    status_grace: timedelta = timedelta(minutes=15)
    status_mapping: Annotated[tuple[tuple[str, str], ...], NoDecode] = (
        ("confirmed", "completed"),
        ("scheduled", "no_show"),
    )
    email_provider: EmailProvider = EmailProvider.console
    smtp_url: str | None = None
    email_from: str | None = None
    sms_provider: SmsProvider = SmsProvider.console
    twilio_account_sid: str | None = None
    twilio_from: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    whatsapp_provider: WhatsappProvider = WhatsappProvider.console
    whatsapp_from: str | None = None
    meta_phone_number_id: str | None = None
    meta_base_url: str = "https://graph.facebook.com/v21.0"
    # Delivery (see avisa.delivery): Twilio sender pool, WhatsApp templates, retries, limits.
    twilio_messaging_service_sid: str | None = None
    #: {"reminder_24h": {"es": "HX…", "en": "HX…"}, "*": {...}}: a Twilio ContentSid or a
    #: Meta template name per reminder kind and locale ("*" is the fallback kind).
    whatsapp_templates: dict[str, dict[str, str]] = Field(default_factory=dict)
    templates_dir: Path | None = None
    delivery_max_attempts: int = Field(default=5, ge=1, le=50)
    delivery_backoff: timedelta = timedelta(seconds=30)
    delivery_backoff_max: timedelta = timedelta(hours=1)
    delivery_lease: timedelta = timedelta(minutes=2)
    delivery_poll_interval: timedelta = timedelta(seconds=5)
    delivery_concurrency: int = Field(default=16, ge=1, le=512)
    #: Per provider: at most N messages per second/minute/hour (`twilio=10/s,smtp=5/s`).
    rate_limits: Annotated[dict[str, tuple[int, float]], NoDecode] = Field(
        default_factory=lambda: {"smtp": (10, 1.0), "twilio": (10, 1.0), "meta": (20, 1.0)}
    )
    # Alerts to the operator (see avisa.alerts); the webhook URL is vault secret
    # ALERT_WEBHOOK_URL. Comma-separated addresses; at most one alert per subject per period.
    alert_email: str | None = None
    alert_period: timedelta = timedelta(hours=1)
    #: `/metrics` without a key (Prometheus' default); false requires the service key.
    metrics_public: bool = True
    # Two-way messaging (see avisa.messaging): what a reply means, comma-separated; case,
    # accents and surrounding spaces do not matter, and no word may mean two things.
    confirm_keywords: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CONFIRM
    cancel_keywords: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CANCEL
    stop_keywords: Annotated[tuple[str, ...], NoDecode] = DEFAULT_STOP
    log_format: Literal["auto", "human", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _parse_offsets(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p for p in value.split(",") if p.strip()]
            if not parts:
                raise ValueError("needs at least one offset, like 24h,1h")
            offsets = sorted({parse_offset(p) for p in parts}, reverse=True)
            return tuple(offsets)
        return value

    @field_validator("min_lead", "reminder_horizon", "status_grace", "alert_period", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        # Same spelling as the reminder offsets (10m, 2h), which reads better than ISO 8601.
        if isinstance(value, str):
            return parse_offset(value)
        return value

    @field_validator(
        "delivery_backoff",
        "delivery_backoff_max",
        "delivery_lease",
        "delivery_poll_interval",
        mode="before",
    )
    @classmethod
    def _parse_delivery_duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_offset(value)
        return value

    @field_validator("delivery_poll_interval")
    @classmethod
    def _check_poll_interval(cls, value: timedelta) -> timedelta:
        # A due notification must go out within 60 s of its due time.
        if not timedelta(0) < value <= timedelta(seconds=30):
            raise ValueError("must be between 1s and 30s")
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_rate_limits(value)
        return value

    @field_validator("confirm_keywords", "cancel_keywords", "stop_keywords", mode="before")
    @classmethod
    def _parse_keywords(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_keywords(value)
        return value

    @field_validator("stop_keywords")
    @classmethod
    def _check_keywords(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # The last of the three: the other two are validated by now (or failed already).
        Keywords.of(
            info.data.get("confirm_keywords", ()), info.data.get("cancel_keywords", ()), value
        )
        return value

    @field_validator("status_mapping", mode="before")
    @classmethod
    def _parse_status_mapping(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_status_mapping(value)
        return value

    @field_validator("default_currency")
    @classmethod
    def _check_currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"{value!r} is not an ISO 4217 code like EUR")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Madrid)"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        normalize_database_url(value)
        return value

    @field_validator("public_url", "twilio_base_url", "meta_base_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @property
    def database(self) -> URL:
        """The SQLAlchemy URL to connect to (SQLite under the data dir unless configured)."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return make_url(f"sqlite:///{self.data_dir / 'avisa.db'}")

    @property
    def root_key_path(self) -> Path:
        """Where the root keyring file lives (used unless `AVISA_ROOT_KEY` is set)."""
        return self.root_key_file or self.data_dir / "root.key"


def normalize_database_url(text: str) -> URL:
    """Parse a database URL and pin the driver: `postgresql://` uses psycopg 3.

    Raises ValueError naming what is wrong for a malformed URL or an unsupported database.
    """
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(
            "is not a database URL (expected sqlite:///path or postgresql://…)"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database in (None, "") or url.database == ":memory:":
            raise ValueError("a SQLite URL needs a file path, like sqlite:///./avisa.db")
        return url.set(drivername="sqlite")
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise ValueError("a PostgreSQL URL needs a database name")
        return url.set(drivername="postgresql+psycopg")
    raise ValueError(f"unsupported database {backend!r} (use sqlite or postgresql)")


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and `.env`, with `overrides` taking precedence.

    Raises ConfigError naming the first invalid variable and what is wrong with it.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "configuration"
    message = str(first["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return f"invalid AVISA_{field.upper()}: {message}"
