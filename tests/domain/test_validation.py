"""Contact, zone, money and time checks: what is accepted, how it is normalised, and the
one-line error naming the field for what is not. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from avisa.config import load_settings
from avisa.domain.validation import (
    InvalidFieldError,
    check_amount,
    check_currency,
    check_zone,
    normalize_email,
    normalize_phone,
    quantize_amount,
    to_utc,
)
from avisa.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "region", "e164"),
    [
        ("600 123 456", "ES", "+34600123456"),
        ("+34 600-12-34-56", "US", "+34600123456"),
        ("0034600123456", "ES", "+34600123456"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_phone_numbers_are_stored_in_e164(text: str, region: str, e164: str) -> None:
    assert normalize_phone("phone", text, region) == e164


@pytest.mark.parametrize("text", ["12", "hello", "+34 123", ""])
def test_bad_phone_numbers_name_the_field(text: str) -> None:
    with pytest.raises(InvalidFieldError, match=r"^invalid client\.phone: ") as info:
        normalize_phone("client.phone", text, "ES")
    assert info.value.http_status == 422
    assert "\n" not in str(info.value)


def test_email_is_normalised_without_any_network_lookup() -> None:
    # A domain that does not exist is fine: deliverability is not checked.
    assert (
        normalize_email("email", " Ana@Example.INVALID-tld.com ") == "Ana@example.invalid-tld.com"
    )
    with pytest.raises(InvalidFieldError, match=r"^invalid email: "):
        normalize_email("email", "ana@")


def test_zones_must_be_iana_names() -> None:
    assert check_zone("timezone", "America/Argentina/Buenos_Aires")
    for bad in ("CEST", "Mars/Olympus", "../etc/passwd"):
        with pytest.raises(InvalidFieldError, match="unknown time zone"):
            check_zone("timezone", bad)


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        ("10.001", "EUR", "EUR amounts have at most 2 decimals"),
        ("1.5", "JPY", "JPY amounts have at most 0 decimals"),
        ("-0.01", "EUR", "must be a non-negative amount"),
        ("NaN", "EUR", "must be a non-negative amount"),
        ("100000000000", "EUR", "is too large"),
    ],
)
def test_amounts_follow_the_currency(amount: str, currency: str, problem: str) -> None:
    with pytest.raises(InvalidFieldError, match=problem):
        check_amount("total_amount", Decimal(amount), currency)


def test_valid_amounts_and_rendering_with_the_currency_decimals() -> None:
    assert check_amount("t", Decimal("1.234"), "KWD") == Decimal("1.234")
    assert check_amount("t", Decimal("10.50"), "EUR") == Decimal("10.5")
    assert str(quantize_amount(Decimal("10.5"), "EUR")) == "10.50"
    assert str(quantize_amount(Decimal("1500"), "JPY")) == "1500"
    assert check_currency("currency", "eur") == "EUR"
    with pytest.raises(InvalidFieldError, match="not an ISO 4217"):
        check_currency("currency", "EURO")


MADRID = "Europe/Madrid"


def wall(text: str) -> datetime:
    """A naive wall-clock time, as a booking form or a CSV gives it."""
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        (wall("2026-01-15T10:00"), datetime(2026, 1, 15, 9, 0, tzinfo=UTC)),
        (wall("2026-07-15T10:00"), datetime(2026, 7, 15, 8, 0, tzinfo=UTC)),
        # 02:30 on 25 October happens twice: the first (summer time) is taken.
        (wall("2026-10-25T02:30"), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (wall("2026-03-29T03:00"), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    ],
)
def test_naive_times_are_wall_clock_in_the_zone(local: datetime, utc: datetime) -> None:
    assert to_utc("starts_at", local, MADRID) == utc


def test_a_wall_clock_time_skipped_by_dst_is_refused_not_guessed() -> None:
    with pytest.raises(InvalidFieldError, match="does not exist in Europe/Madrid"):
        to_utc("starts_at", wall("2026-03-29T02:30"), MADRID)


def test_aware_times_keep_their_instant() -> None:
    aware = datetime(2026, 3, 29, 2, 30, tzinfo=UTC) + timedelta(microseconds=5)
    assert to_utc("starts_at", aware, MADRID) == aware


def test_settings_for_reminders_and_the_status_updater() -> None:
    settings = load_settings(
        _env_file=None,
        min_lead="5m",
        reminder_horizon="3h",
        status_grace="1h",
        status_mapping="confirmed:completed",
    )
    assert settings.min_lead == timedelta(minutes=5)
    assert settings.reminder_horizon == timedelta(hours=3)
    assert settings.status_grace == timedelta(hours=1)
    assert settings.status_mapping == (("confirmed", "completed"),)
    defaults = load_settings(_env_file=None)
    assert (defaults.min_lead, defaults.status_grace) == (
        timedelta(minutes=10),
        timedelta(minutes=15),
    )
    assert defaults.reminder_horizon == timedelta(hours=2)
    with pytest.raises(ConfigError, match=r"^invalid AVISA_MIN_LEAD: "):
        load_settings(_env_file=None, min_lead="soon")
    with pytest.raises(ConfigError, match=r"^invalid AVISA_DEFAULT_CURRENCY: "):
        load_settings(_env_file=None, default_currency="euro")
