"""Normalising and checking what people type: emails, phone numbers, zones, money, times.

Every check raises `InvalidFieldError` naming the field, which the API answers with 422 and
the CSV import reports per row. Pure: no database, no web framework, no network (email
domains are not looked up).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.numbers import get_currency_precision, list_currencies
from email_validator import EmailNotValidError, validate_email

from avisa.config import SUPPORTED_LOCALES
from avisa.errors import AvisaError


class InvalidFieldError(AvisaError):
    """A field's value is invalid; `field` names it and the message says what is wrong."""

    http_status = 422

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"invalid {field}: {problem}")


def normalize_email(field: str, text: str) -> str:
    """The normalised address (domain lower-cased); syntax only, no DNS lookup."""
    try:
        return validate_email(text.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidFieldError(field, str(exc)) from None


def normalize_phone(field: str, text: str, default_region: str) -> str:
    """The number in E.164 (`+34600123456`); national numbers are read in `default_region`."""
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidFieldError(
            field, f"{text!r} is not a phone number (use +<country code><number>)"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidFieldError(field, f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_zone(field: str, name: str) -> str:
    """`name` if it is an IANA time zone such as `Europe/Madrid`."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidFieldError(
            field, f"unknown time zone {name!r} (use an IANA name like Europe/Madrid)"
        ) from None
    return name


def check_locale(field: str, locale: str) -> str:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidFieldError(field, f"{locale!r} is not one of {', '.join(SUPPORTED_LOCALES)}")
    return locale


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(field: str, code: str) -> str:
    """The upper-cased ISO 4217 code."""
    code = code.strip().upper()
    if code not in _currencies():
        raise InvalidFieldError(field, f"{code!r} is not an ISO 4217 currency code like EUR")
    return code


def check_amount(field: str, amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded to nothing: refuse negatives and more decimals than `currency` has."""
    if not amount.is_finite() or amount < 0:
        raise InvalidFieldError(field, "must be a non-negative amount")
    digits = get_currency_precision(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        raise InvalidFieldError(field, f"{currency} amounts have at most {digits} decimals")
    if amount >= Decimal("1e11"):
        raise InvalidFieldError(field, "is too large")
    return amount


def quantize_amount(amount: Decimal, currency: str) -> Decimal:
    """`amount` with exactly the currency's number of decimals (`10` EUR -> `10.00`)."""
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))


def to_utc(field: str, instant: datetime, zone: str) -> datetime:
    """An aware instant in UTC; a naive one is wall-clock time in `zone`.

    A wall-clock time that does not exist in `zone` (skipped by a DST change) is refused
    rather than guessed; an ambiguous one (repeated hour) takes its first occurrence.
    """
    try:
        if instant.tzinfo is not None:
            return instant.astimezone(UTC)
        tz = ZoneInfo(zone)
        in_utc = instant.replace(tzinfo=tz).astimezone(UTC)
        round_trip = in_utc.astimezone(tz).replace(tzinfo=None)
    except OverflowError:
        raise InvalidFieldError(field, "is out of range") from None
    if round_trip != instant:
        raise InvalidFieldError(
            field, f"{instant.isoformat()} does not exist in {zone} (skipped by a DST change)"
        )
    return in_utc
