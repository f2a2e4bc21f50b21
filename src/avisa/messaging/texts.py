"""The answers avisa sends back to a reply, in the client's language (`es` or `en`).

Each answer names the appointment it acted on (service and local start time), because
with several upcoming appointments the nearest one is meant and the client must be able
to see which one that was. Pure: no database, no web, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time

_TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "confirmed": "Gracias, {name}. Su cita de {service} del {when} queda confirmada.",
        "cancelled": "Su cita de {service} del {when} queda cancelada. Gracias por avisarnos.",
        "closed": "Su cita de {service} del {when} ya no se puede cambiar ({status}).",
        "no_appointment": "No encontramos ninguna cita próxima a su nombre.",
        "opted_out": (
            "No le enviaremos más recordatorios por {channel}. "
            "Para volver a recibirlos, contacte con nosotros."
        ),
        "unrecognised": (
            "No hemos entendido su respuesta. Responda {confirm} para confirmar su cita de "
            "{service} del {when}, {cancel} para cancelarla o {stop} para no recibir más mensajes."
        ),
        "unrecognised_none": (
            "No hemos entendido su respuesta. Responda {stop} para no recibir más mensajes."
        ),
    },
    "en": {
        "confirmed": "Thank you, {name}. Your {service} appointment on {when} is confirmed.",
        "cancelled": "Your {service} appointment on {when} is cancelled. Thank you for telling us.",
        "closed": "Your {service} appointment on {when} can no longer be changed ({status}).",
        "no_appointment": "We could not find an upcoming appointment for you.",
        "opted_out": (
            "You will get no more reminders by {channel}. To get them again, please contact us."
        ),
        "unrecognised": (
            "Sorry, we did not understand. Reply {confirm} to confirm your {service} "
            "appointment on {when}, {cancel} to cancel it, or {stop} to stop messages."
        ),
        "unrecognised_none": "Sorry, we did not understand. Reply {stop} to stop messages.",
    },
}

_CHANNEL_NAMES = {
    "es": {"sms": "SMS", "whatsapp": "WhatsApp"},
    "en": {"sms": "SMS", "whatsapp": "WhatsApp"},
}
_STATUS_NAMES = {
    "es": {"cancelled": "cancelada", "completed": "completada", "no_show": "no presentada"},
    "en": {"cancelled": "cancelled", "completed": "completed", "no_show": "missed"},
}


@dataclass(frozen=True)
class AppointmentLine:
    """What an answer says about an appointment."""

    client_name: str
    service: str
    starts_at: datetime
    timezone: str
    status: str


def when(starts_at: datetime, zone: str, locale: str) -> str:
    """`lunes, 2 de marzo de 2026, 10:00` / `Monday, March 2, 2026, 10:00 AM`, local time."""
    local = starts_at.astimezone(ZoneInfo(zone))
    return (
        f"{format_date(local, 'full', locale=locale)}, {format_time(local, 'short', locale=locale)}"
    )


def answer_text(
    outcome: str,
    locale: str,
    *,
    channel: str,
    appointment: AppointmentLine | None,
    keywords: tuple[str, str, str],
) -> str:
    """The answer for `outcome` (an `inbound.Outcome` value) in `locale` (else `es`).

    `keywords` are the first confirm, cancel and stop keywords, quoted in the help text.
    Raises KeyError for an outcome that has no answer (the caller sends none then).
    """
    lang = locale.split("_", maxsplit=1)[0].split("-", maxsplit=1)[0]
    lang = lang if lang in _TEXTS else "es"
    texts = _TEXTS[lang]
    key = outcome
    if outcome == "already_confirmed":
        key = "confirmed"
    if outcome == "unrecognised" and appointment is None:
        key = "unrecognised_none"
    template = texts[key]
    values = {
        "channel": _CHANNEL_NAMES[lang].get(channel, channel),
        "confirm": keywords[0],
        "cancel": keywords[1],
        "stop": keywords[2],
    }
    if appointment is not None:
        values |= {
            "name": appointment.client_name,
            "service": appointment.service,
            "when": when(appointment.starts_at, appointment.timezone, lang),
            "status": _STATUS_NAMES[lang].get(appointment.status, appointment.status),
        }
    return template.format(**values)
