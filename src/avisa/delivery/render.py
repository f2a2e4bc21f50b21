"""Rendering a reminder in the client's language and the appointment's time zone.

Templates are Jinja2 files named `{locale}/{kind}.{channel}.{part}`; for each one a
kind-specific file (`es/reminder_1h.sms.txt`) wins over the generic `es/reminder.sms.txt`,
and a file in the user's folder (`AVISA_TEMPLATES_DIR`) wins over the shipped one. Parts:
`email.subject.txt`, `email.txt`, `email.html` (autoescaped), `sms.txt`, `whatsapp.txt`.

Pure: nothing here reads the clock or touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_timezone_location
from babel.numbers import format_currency
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from avisa.delivery.gsm import sms_body
from avisa.delivery.message import Rendered

SHIPPED_LOCALES = ("es", "en")


@dataclass(frozen=True)
class ReminderContext:
    """Everything a reminder template may use about one notification."""

    kind: str
    channel: str
    locale: str
    client_name: str
    service: str
    staff: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    timezone: str
    total_amount: Decimal
    paid_amount: Decimal
    currency: str


class TemplateMissingError(LookupError):
    """No template exists for a kind, channel and part in any locale tried."""


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def _local_parts(instant: datetime, zone: str, locale: str) -> tuple[str, str, str]:
    """(full date, short time, zone label) of `instant` in `zone`, in `locale`."""
    local = instant.astimezone(ZoneInfo(zone))
    return (
        _date_text(local.date(), locale),
        _time_text(local.time().replace(second=0, microsecond=0), locale),
        zone_label(zone, locale),
    )


# Appointments share days, slot times and prices: formatting each once is most of a render.
@lru_cache(maxsize=4096)
def _date_text(day: date, locale: str) -> str:
    return str(format_date(day, "full", locale=_locale(locale)))


@lru_cache(maxsize=4096)
def _time_text(moment: time, locale: str) -> str:
    return str(format_time(moment, "short", locale=_locale(locale)))


def format_when(instant: datetime, zone: str, locale: str) -> str:
    """`martes, 15 de diciembre de 2026, 10:00 (hora de Madrid)` in `locale`, in `zone`."""
    day, clock, label = _local_parts(instant, zone, locale)
    return f"{day}, {clock} ({label})"


@lru_cache(maxsize=256)
def zone_label(zone: str, locale: str) -> str:
    """The zone as people say it: `hora de Madrid`, `Madrid Time`; `UTC` stays `UTC`."""
    if zone in ("UTC", "Etc/UTC", "GMT"):
        return "UTC"
    loc = _locale(locale)
    city = get_timezone_location(ZoneInfo(zone), locale=loc, return_city=True)
    return str(loc.zone_formats["region"] % city)


def amount_due(context: ReminderContext) -> str | None:
    """What is still to pay, formatted for the locale, or None when fully paid."""
    due = context.total_amount - context.paid_amount
    if due <= 0:
        return None
    return _money(due, context.currency, context.locale)


@lru_cache(maxsize=1024)
def _money(amount: Decimal, currency: str, locale: str) -> str:
    return str(format_currency(amount, currency, locale=_locale(locale)))


class Renderer:
    """Renders reminders from the shipped templates and an optional user folder.

    Raises TemplateMissingError when neither has a template for a kind/channel, and
    Jinja2's errors for a template that is broken or uses an unknown variable.
    """

    def __init__(self, user_dir: Path | None = None, default_locale: str = "es") -> None:
        loaders: list[BaseLoader] = []
        if user_dir is not None:
            loaders.append(FileSystemLoader(str(user_dir)))
        loaders.append(PackageLoader("avisa.delivery", "templates"))
        self.default_locale = default_locale
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self._names: dict[tuple[str, str, str], str] = {}

    def __repr__(self) -> str:
        return f"Renderer(default_locale={self.default_locale!r})"

    def render(self, context: ReminderContext) -> Rendered:
        """The message for `context.channel`: subject/text/html, SMS body or WhatsApp text."""
        values = self.variables(context)
        channel = context.channel
        if channel == "email":
            return Rendered(
                subject=" ".join(self._part(context, "email.subject.txt", values).split()),
                text=self._part(context, "email.txt", values),
                html=self._part(context, "email.html", values),
            )
        text = self._part(context, f"{channel}.txt", values).strip()
        if channel == "sms":
            body = sms_body(text)
            return Rendered(text=body.text, sms=body)
        return Rendered(text=text, params=(values["name"], values["service"], values["when"]))

    def variables(self, context: ReminderContext) -> dict[str, Any]:
        locale = context.locale
        day, clock, zone = _local_parts(context.starts_at, context.timezone, locale)
        return {
            "name": context.client_name,
            "service": context.service,
            "staff": context.staff,
            "location": context.location,
            "when": f"{day}, {clock} ({zone})",
            "date": day,
            "time": clock,
            "zone": zone,
            "amount_due": amount_due(context),
            "kind": context.kind,
            "locale": locale,
        }

    def _part(self, context: ReminderContext, part: str, values: dict[str, Any]) -> str:
        name = self._template_name(context.locale, context.kind, part)
        return self.env.get_template(name).render(values).strip() + "\n"

    def _template_name(self, locale: str, kind: str, part: str) -> str:
        key = (locale, kind, part)
        cached = self._names.get(key)
        if cached is not None:
            return cached
        locales = [
            locale,
            locale.split("-", maxsplit=1)[0].split("_", maxsplit=1)[0],
            self.default_locale,
            "en",
        ]
        for loc in dict.fromkeys(locales):
            for base in (kind, "reminder"):
                name = f"{loc}/{base}.{part}"
                try:
                    self.env.get_template(name)
                except TemplateNotFound:
                    continue
                self._names[key] = name
                return name
        raise TemplateMissingError(f"no template {kind}.{part} for locale {locale!r}")
