"""Rendering in the client's language and the appointment's zone (table-driven, across DST
changes), amounts still due, user template overrides, SMS encoding and the .ics file."""

# ruff: noqa: E501  (the case tables read best one case per line)

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from avisa.delivery.gsm import sms_body
from avisa.delivery.ics import appointment_ics
from avisa.delivery.render import ReminderContext, Renderer, TemplateMissingError, format_when


def context(**fields: object) -> ReminderContext:
    values: dict[str, object] = {
        "kind": "reminder_24h",
        "channel": "sms",
        "locale": "es",
        "client_name": "Ana",
        "service": "Corte",
        "staff": None,
        "location": None,
        "starts_at": datetime(2026, 12, 15, 9, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 15, 10, 0, tzinfo=UTC),
        "timezone": "Europe/Madrid",
        "total_amount": Decimal(0),
        "paid_amount": Decimal(0),
        "currency": "EUR",
    }
    values.update(fields)
    return ReminderContext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("instant", "zone", "locale", "expected"),
    [
        # The issue's own example.
        ("2026-12-15T09:00", "Europe/Madrid", "es", "martes, 15 de diciembre de 2026, 10:00 (hora de Madrid)"),
        ("2026-12-15T09:00", "Europe/Madrid", "en", "Tuesday, December 15, 2026, 10:00\u202fAM (Madrid Time)"),
        # Europe moves to summer time on 2026-03-29: 10:00 local is 09:00 UTC before, 08:00 after.
        ("2026-03-28T09:00", "Europe/Madrid", "es", "sábado, 28 de marzo de 2026, 10:00 (hora de Madrid)"),
        ("2026-03-30T08:00", "Europe/Madrid", "es", "lunes, 30 de marzo de 2026, 10:00 (hora de Madrid)"),
        ("2026-03-30T08:00", "Europe/Madrid", "en", "Monday, March 30, 2026, 10:00\u202fAM (Madrid Time)"),
        # And back on 2026-10-25.
        ("2026-10-26T09:00", "Europe/Madrid", "es", "lunes, 26 de octubre de 2026, 10:00 (hora de Madrid)"),
        # The US changes on 2026-03-08.
        ("2026-03-07T15:00", "America/New_York", "en", "Saturday, March 7, 2026, 10:00\u202fAM (New York Time)"),
        ("2026-03-09T14:00", "America/New_York", "en", "Monday, March 9, 2026, 10:00\u202fAM (New York Time)"),
        ("2026-03-09T14:00", "America/Mexico_City", "es", "lunes, 9 de marzo de 2026, 8:00 (hora de Ciudad de México)"),
        ("2026-03-09T14:00", "UTC", "en", "Monday, March 9, 2026, 2:00\u202fPM (UTC)"),
    ],
)  # fmt: skip
def test_when_is_in_the_appointments_zone_and_the_clients_language(
    instant: str, zone: str, locale: str, expected: str
) -> None:
    at = datetime.fromisoformat(instant).replace(tzinfo=UTC)
    assert format_when(at, zone, locale) == expected


def test_reminders_across_the_dst_change_keep_the_local_time() -> None:
    """Two appointments at 10:00 Madrid time either side of the change read 10:00 in both
    languages and both channels' texts."""
    renderer = Renderer()
    for start in (datetime(2026, 3, 28, 9, tzinfo=UTC), datetime(2026, 3, 30, 8, tzinfo=UTC)):
        for locale, expected in (
            ("es", "10:00 (hora de Madrid)"),
            ("en", "10:00 AM (Madrid Time)"),
        ):
            for channel in ("email", "sms", "whatsapp"):
                rendered = renderer.render(context(starts_at=start, locale=locale, channel=channel))
                assert expected in rendered.text.replace("\u202f", " ")


def test_amount_still_due_is_shown_only_when_not_fully_paid() -> None:
    renderer = Renderer()
    owed = renderer.render(context(total_amount=Decimal(40), paid_amount=Decimal("15.50")))
    assert "Pendiente: 24,50 €." in owed.text
    english = renderer.render(
        context(locale="en", total_amount=Decimal(40), paid_amount=Decimal(10), currency="USD")
    )
    assert "Due: $30.00." in english.text
    paid = renderer.render(context(total_amount=Decimal(40), paid_amount=Decimal(40)))
    assert "Pendiente" not in paid.text


def test_email_has_subject_text_and_escaped_html() -> None:
    rendered = Renderer().render(context(channel="email", service="Corte & <b>color</b>"))
    assert (
        rendered.subject
        == "Recordatorio de tu cita: Corte & <b>color</b>, martes, 15 de diciembre de 2026"
    )
    assert "Corte & <b>color</b>" in rendered.text
    assert rendered.html is not None
    assert "Corte &amp; &lt;b&gt;color&lt;/b&gt;" in rendered.html


def test_whatsapp_parameters_are_name_service_when() -> None:
    rendered = Renderer().render(context(channel="whatsapp", locale="en"))
    assert rendered.params == (
        "Ana",
        "Corte",
        "Tuesday, December 15, 2026, 10:00\u202fAM (Madrid Time)",
    )


def test_kind_specific_template_wins_over_the_generic_one() -> None:
    rendered = Renderer().render(context(kind="reminder_1h"))
    assert rendered.text == "Hola Ana, tu cita de Corte es hoy a las 10:00 (hora de Madrid)."


def test_user_folder_overrides_shipped_templates(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "reminder.sms.txt").write_text("{{ name }}: {{ service }} {{ time }}")
    renderer = Renderer(tmp_path)
    assert renderer.render(context()).text == "Ana: Corte 10:00"
    # Parts the folder does not override still come from the shipped templates.
    assert renderer.render(context(channel="whatsapp")).text.startswith("Hola Ana")


def test_unknown_locale_falls_back_to_the_default_and_missing_template_is_an_error(
    tmp_path: Path,
) -> None:
    assert Renderer(default_locale="en").render(context(locale="fr")).text.startswith("Hi Ana")
    with pytest.raises(TemplateMissingError):
        Renderer().render(context(channel="fax"))


@pytest.mark.parametrize(
    ("text", "expected", "encoding", "segments"),
    [
        ("Cita el sábado, día 3 — “confirmada”…", 'Cita el sabado, dia 3 - "confirmada"...', "GSM-7", 1),
        ("Mañana, miércoles: señal de 10 €", "Mañana, miércoles: señal de 10 €", "GSM-7", 1),
        ("Cita de Zoë 🙂 el sábado", "Cita de Zoë 🙂 el sábado", "UCS-2", 1),
        ("a" * 160, "a" * 160, "GSM-7", 1),
        ("a" * 161, "a" * 161, "GSM-7", 2),
        ("€" * 80, "€" * 80, "GSM-7", 1),
        ("€" * 81, "€" * 81, "GSM-7", 2),
        ("Андрей " * 10, "Андрей " * 10, "UCS-2", 1),
        ("Андрей " * 11, "Андрей " * 11, "UCS-2", 2),
    ],
)  # fmt: skip
def test_sms_bodies_stay_gsm7_where_the_language_allows(
    text: str, expected: str, encoding: str, segments: int
) -> None:
    body = sms_body(text)
    assert (body.text, body.encoding, body.segments) == (expected, encoding, segments)


def test_shipped_spanish_and_english_sms_are_one_gsm7_segment() -> None:
    renderer = Renderer()
    for locale in ("es", "en"):
        rendered = renderer.render(
            context(
                locale=locale,
                starts_at=datetime(2026, 9, 19, 9, tzinfo=UTC),  # a sábado: an accent to strip
                location="C/ Mayor 1",
                total_amount=Decimal(40),
                paid_amount=Decimal(0),
            )
        )
        assert rendered.sms is not None
        assert (rendered.sms.encoding, rendered.sms.segments) == ("GSM-7", 1), rendered.text


def test_ics_escapes_text_and_folds_long_lines() -> None:
    data = appointment_ics(
        uid="appointment-7@avisa",
        summary="Corte; lavado, y peinado",
        starts_at=datetime(2026, 12, 15, 9, tzinfo=UTC),
        ends_at=datetime(2026, 12, 15, 10, tzinfo=UTC),
        stamp=datetime(2026, 12, 14, 9, tzinfo=UTC),
        location="Calle de la Princesa " * 6,
    )
    text = data.decode()
    lines = text.split("\r\n")
    assert text.endswith("\r\n")
    assert "SUMMARY:Corte\\; lavado\\, y peinado" in lines
    assert "DTSTART:20261215T090000Z" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)
