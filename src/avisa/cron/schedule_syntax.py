"""The schedule syntax of `avisa.cron.schedule`: parse and validate, never evaluate.

`parse_text` turns a normalised schedule text into a `Parsed` (an interval, or a 5-field
expression rewritten for cronsim: numbers instead of names, `L` for pg_cron's `$`) or
raises `ScheduleError` whose one line names the bad field and value.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from cronsim import CronSim, CronSimError

from avisa.errors import AvisaError

MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 59
MAX_SCHEDULE_LENGTH = 200

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_WORDS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# The longest each month can be: February 29 exists in leap years, so it can fire.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# What Vixie cron (and so pg_cron) expands each macro to.
MACROS = {
    "yearly": "0 0 1 1 *",
    "annually": "0 0 1 1 *",
    "monthly": "0 0 1 * *",
    "weekly": "0 0 * * 0",
    "daily": "0 0 * * *",
    "midnight": "0 0 * * *",
    "hourly": "0 * * * *",
}
_MACRO_LIST = "@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
_SYNTAX_HINT = (
    "use 5 cron fields like '30 2 * * *', 'N seconds' with N from 1 to 59, or a macro like @daily"
)
_FIELD_LIST = "minute hour day-of-month month day-of-week"
_INTERVAL_RE = re.compile(r"(-?[0-9]+)\s*([a-z]+)", re.ASCII | re.IGNORECASE)
_NUMBER_RE = re.compile(r"[0-9]+", re.ASCII)
# Longer digit strings are out of range whatever they say; capping them keeps int() cheap.
_MAX_DIGITS = 6


class ScheduleError(AvisaError):
    """A schedule expression or time zone is invalid; `str()` says what is wrong."""


class Parsed(NamedTuple):
    """What a schedule text means: an interval, or a 5-field expression for cronsim."""

    interval_seconds: int | None
    cron: str  # "" for interval schedules


class FieldSpec(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


FIELDS = (
    FieldSpec("minute", 0, 59),
    FieldSpec("hour", 0, 23),
    FieldSpec("day-of-month", 1, 31),
    FieldSpec("month", 1, 12, _MONTH_NAMES, 1),
    FieldSpec("day-of-week", 0, 7, _DAY_NAMES, 0),
)
_DOM, _DOW = FIELDS[2], FIELDS[4]


class ParsedField(NamedTuple):
    """The values one field selects, whether it holds `$`, and its text for cronsim."""

    values: frozenset[int]
    last_day: bool
    cron: str


class _ParseError(Exception):
    """What is wrong with a schedule; `parse_text` prefixes the schedule itself."""


def parse_text(text: str) -> Parsed:
    """Parse a schedule text that is already stripped and single-spaced.

    Raises ScheduleError: "invalid schedule '<text>': <what is wrong>".
    """
    if not text:
        raise ScheduleError(f"invalid schedule '': the schedule is empty ({_SYNTAX_HINT})")
    if len(text) > MAX_SCHEDULE_LENGTH:
        raise ScheduleError(
            f"invalid schedule {_shown(text)}: it is {len(text)} characters long"
            f" (at most {MAX_SCHEDULE_LENGTH})"
        )
    try:
        if text.startswith("@"):
            return Parsed(None, parse_cron(_expand_macro(text)))
        interval = _INTERVAL_RE.fullmatch(text)
        if interval:
            return Parsed(_parse_interval(interval[1], interval[2].lower()), "")
        return Parsed(None, parse_cron(text))
    except _ParseError as exc:
        raise ScheduleError(f"invalid schedule {_shown(text)}: {exc}") from None


def _shown(text: str) -> str:
    """`text` quoted for an error message, shortened so that the line stays readable."""
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


def _expand_macro(text: str) -> str:
    name = text[1:].lower()
    if name in ("reboot", "restart"):
        raise _ParseError(
            f"@{name} is not supported: avisa runs jobs on a clock, not when a process"
            " starts (use a schedule such as @daily)"
        )
    if " " in name:
        raise _ParseError(f"a macro stands alone, with no other fields (use {_MACRO_LIST})")
    if name not in MACROS:
        raise _ParseError(f"unknown macro {text!r} (use {_MACRO_LIST})")
    return MACROS[name]


def _parse_interval(number: str, unit: str) -> int:
    if unit not in ("second", "seconds"):
        if unit.rstrip("s") in ("minute", "min", "hour", "day"):
            raise _ParseError(
                "intervals are in seconds only (1-59); for minutes or hours use a cron"
                " expression, e.g. '*/5 * * * *' for every 5 minutes"
            )
        raise _ParseError(f"unknown interval unit {unit!r} (write 'N seconds', N from 1 to 59)")
    seconds = int(number) if len(number) <= _MAX_DIGITS else MAX_INTERVAL_SECONDS + 1
    if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
        raise _ParseError(
            f"interval {number} seconds is out of range"
            f" {MIN_INTERVAL_SECONDS}-{MAX_INTERVAL_SECONDS}"
            " (for every minute or longer use a cron expression like '* * * * *')"
        )
    return seconds


def parse_cron(text: str) -> str:
    """Validate a 5-field expression; return it rewritten for cronsim."""
    parts = text.split(" ")
    if len(parts) == 6:
        raise _ParseError(
            f"expected 5 fields ({_FIELD_LIST}), got 6: avisa has no seconds field"
            " (use 'N seconds' for sub-minute schedules)"
        )
    if len(parts) != len(FIELDS):
        raise _ParseError(f"expected 5 fields ({_FIELD_LIST}), got {len(parts)} ({_SYNTAX_HINT})")
    fields = [parse_field(spec, part) for spec, part in zip(FIELDS, parts, strict=True)]
    _check_can_fire(parts, fields)
    cron = " ".join(parsed.cron for parsed in fields)
    try:
        # Belt and braces: everything accepted above must be something cronsim reads.
        CronSim(cron, datetime(2000, 1, 1))  # noqa: DTZ001 - cronsim's naive mode; no clock read
    except CronSimError as exc:  # pragma: no cover - the checks above are stricter than cronsim
        raise _ParseError(f"the cron evaluator refused it ({exc})") from None
    return cron


def parse_field(spec: FieldSpec, text: str) -> ParsedField:
    """Parse one field: a list of `*`, `*/s`, `a`, `a-b`, `a-b/s` (and `$` in day-of-month).

    Vixie cron's rules: a step needs a range or `*` (`5/15` is refused), ranges go upwards,
    steps are positive. `sun` as the end of a range is 7, so that `fri-sun` works.
    """
    values: set[int] = set()
    last_day = False
    rewritten: list[str] = []
    for item in text.split(","):
        if not item:
            raise _ParseError(f"{spec.name} field {text!r} has an empty list element")
        if "$" in item:
            _check_last_day(spec, text, item)
            last_day = True
            rewritten.append("L")  # cronsim's spelling of the last day of the month
            continue
        body, slash, step_text = item.partition("/")
        step = _step(spec, step_text, item) if slash else 1
        if body == "*":
            start, end = spec.low, spec.high
            rewritten.append(item)
        else:
            first, dash, last = body.partition("-")
            start = _value(spec, first, text)
            end = _value(spec, last, text, range_end=True) if dash else start
            if end < start:
                raise _ParseError(
                    f"{spec.name} range {body!r} is reversed (write the lower value first)"
                )
            if slash and not dash:
                raise _ParseError(
                    f"{spec.name} {item!r} has a step without a range"
                    f" (write {start}-{spec.high}/{step})"
                )
            span = f"{start}-{end}" if dash else str(start)
            rewritten.append(f"{span}/{step}" if slash else span)
        values.update(range(start, end + 1, step))
    return ParsedField(frozenset(values), last_day, ",".join(rewritten))


def _check_last_day(spec: FieldSpec, text: str, item: str) -> None:
    if spec is not _DOM:
        raise _ParseError(
            f"{spec.name} field {text!r}: '$' (last day of the month) is only allowed in"
            " the day-of-month field"
        )
    if item != "$":
        # pg_cron gives `$` no meaning inside a range or a step; neither does cronsim.
        raise _ParseError(
            f"day-of-month {item!r}: '$' (last day of the month) stands alone or in a list"
            " like '1,15,$', not in a range or step"
        )


def _value(spec: FieldSpec, token: str, text: str, *, range_end: bool = False) -> int:
    if not token:
        raise _ParseError(f"{spec.name} field {text!r} is missing a number")
    if _NUMBER_RE.fullmatch(token):
        value = int(token) if len(token) <= _MAX_DIGITS else spec.high + 1
        if not spec.low <= value <= spec.high:
            raise _ParseError(f"{spec.name} value {token} is out of range {spec.low}-{spec.high}")
        return value
    name = token.lower()
    if name in spec.names:
        if range_end and spec is _DOW and name == "sun":
            return 7
        return spec.names.index(name) + spec.name_base
    if spec.names:
        raise _ParseError(
            f"{spec.name} value {token!r} is not a number or a name"
            f" ({spec.names[0]}-{spec.names[-1]})"
        )
    raise _ParseError(f"{spec.name} value {token!r} is not a number")


def _step(spec: FieldSpec, token: str, item: str) -> int:
    if not _NUMBER_RE.fullmatch(token):
        raise _ParseError(f"{spec.name} {item!r} needs a number after '/'")
    step = int(token) if len(token) <= _MAX_DIGITS else spec.high + 1
    # A step past the field's largest value would select the start alone: surely a mistake
    # (`*/90` in minutes is not "every 90 minutes").
    if not 1 <= step <= spec.high:
        raise _ParseError(f"{spec.name} step {token} is out of range 1-{spec.high}")
    return step


def _check_can_fire(parts: list[str], fields: list[ParsedField]) -> None:
    """Refuse day-of-month and month combinations that never occur, such as February 30.

    Only the AND case can be empty: when either day field starts with `*`, a day must match
    both (Debian cron); otherwise the day-of-week side alone matches every week. A date
    that exists falls on every day of the week within 40 years (February 29 included),
    inside cronsim's 50-year search, so this check is the whole of "never fires".
    """
    dom, months = fields[2], fields[3].values
    if dom.last_day or not (parts[2].startswith("*") or parts[4].startswith("*")):
        return
    if any(day <= _MONTH_DAYS[month - 1] for day in dom.values for month in months):
        return
    names = [_MONTH_WORDS[month - 1] for month in sorted(months)]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "has" if len(names) == 1 else "have"
    raise _ParseError(f"it never fires: {listed} {verb} no day {min(dom.values)}")
