"""Schedules: pg_cron's schedule syntax, parsed, validated and evaluated in a time zone.

Contract
--------
`parse_schedule(text)` accepts what pg_cron accepts and returns a `Schedule`, or raises
`ScheduleError` whose one line names the bad field and value:

- 5-field cron, `minute hour day-of-month month day-of-week`: numbers, names (`jan`-`dec`,
  `sun`-`sat`, any case), ranges `a-b`, steps `*/s` and `a-b/s`, lists `a,b-c`. Day of week
  7 is Sunday (and `sun` ends a range as 7, so `sat-sun` is the weekend). As in Vixie and
  Debian cron, a step needs a range (`5/15` is refused; write `5-59/15`), and when both
  day fields are restricted and neither starts with `*`, a day matches if EITHER does.
- `$` in the day-of-month field is the last day of the month (pg_cron's extension), alone
  or as a list element (`1,15,$`); it cannot be part of a range or a step.
- `N seconds` or `N second` (any case, 1-59): an interval schedule.
- `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`, as the
  cron expressions Vixie cron expands them to. `@reboot` is refused: avisa has no boot.
- An expression that can never fire (`0 0 30 2 *`) is refused when parsed, so evaluation
  never searches forever.

`Schedule.next_after(after, tz)` is pure: it never reads the clock. It returns the first
fire instant strictly after `after`, as an aware UTC datetime.

Interval schedules
------------------
`N seconds` fires at every instant whose Unix time is a whole multiple of N. The period is
therefore exactly N seconds forever, the ticks do not depend on the time zone, on DST or
on when the process started, and every worker computes the same ticks (which the
scheduler's unique (job, scheduled time) rows rely on). When N divides 60 the ticks fall on
the minute boundary and on the same seconds in every minute, like pg_cron's; for other N
(say 7) they drift through the minute instead of bunching at its end.

Time zones and DST (Debian cron's rules, computed by cronsim)
-------------------------------------------------------------
Cron expressions match the wall clock of the job's IANA zone. Debian cron splits jobs in
two kinds, and cronsim implements both:

- Wildcard jobs, whose minute or hour field starts with `*` (`* * * * *`, `0 * * * *`,
  `*/15 9-17 * * *`, `@hourly`), follow the wall clock: they fire at every real instant
  whose local time matches. Through a spring-forward gap the skipped wall times simply do
  not occur; through a fall-back overlap the repeated wall times occur twice, so an
  hourly job keeps firing once every real hour and a job in the repeated hour fires in
  both of its occurrences (they are different instants, one real hour apart).
- Fixed-time jobs (every other expression, including `@daily`, `@weekly`, ...) fire once
  per matching local date and time: a time in a spring-forward gap fires once, at the
  first valid instant after it (the end of the gap); a time in a fall-back overlap fires
  once, at its first occurrence. So a daily job fires exactly once on both DST days.

cronsim evaluates fixed-time jobs on naive local times, which loses the fold of `after`:
asked for the fire after an instant in the second occurrence of an overlap, it offers the
first occurrence of a later wall time, which lies before `after`. `next_after` skips such
candidates, which is what makes fixed-time jobs exactly-once across a fall-back. cronsim
also moves wildcard jobs by wall-clock `replace()` calls that can step over the end of a
half-hour overlap (Australia/Lord_Howe); `next_after` therefore checks each wildcard
candidate against the wall clock minute by minute where the zone's offset changes (see
`_next_wildcard`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import ExpressionDescriptor, Options
from cronsim import CronSim, CronSimError

from avisa.clock import utc
from avisa.errors import AvisaError

__all__ = ["Schedule", "ScheduleError", "parse_schedule", "parse_timezone"]

MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 59
MAX_SCHEDULE_LENGTH = 200

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
# Longest each month can be; February 29 exists in leap years, so day 29 can fire in Feb.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# What Vixie cron (and so pg_cron) expands each macro to.
_MACROS = {
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
_INTERVAL_RE = re.compile(r"(-?[0-9]+)\s*([a-z]+)", re.ASCII | re.IGNORECASE)
_NUMBER_RE = re.compile(r"[0-9]+", re.ASCII)
# Candidates cronsim may offer at or before `after` (the rest of a fall-back overlap);
# real overlaps are at most a couple of hours of minutes, so this bound is never reached.
_MAX_CANDIDATES = 10_000
# How far apart `_offset_change` probes a zone's offset; no zone changes it twice within.
_PROBE = timedelta(hours=6)


class ScheduleError(AvisaError):
    """A schedule expression or time zone is invalid; `str()` says what is wrong."""


class _Field(NamedTuple):
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES, 1),
    _Field("day-of-week", 0, 7, _DAY_NAMES, 0),
)
_DOM, _MONTH, _DOW = _FIELDS[2], _FIELDS[3], _FIELDS[4]


class _Parsed(NamedTuple):
    """What a schedule text means: an interval, or a 5-field expression cronsim reads."""

    interval_seconds: int | None
    cron: str


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`.

    Raises ScheduleError("unknown time zone 'X' (use an IANA name like Europe/Madrid)").
    """
    try:
        # ZoneInfo also accepts paths and empty names in some forms; refuse those first.
        if not name or name != name.strip() or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Madrid)"
        ) from None


def parse_schedule(text: str) -> Schedule:
    """Parse and validate a schedule (see the module docstring for the syntax).

    Raises ScheduleError naming the bad field and value, e.g.
    "invalid schedule '61 * * * *': minute value 61 is out of range 0-59".
    """
    return Schedule(" ".join(text.split()))


@dataclass(frozen=True)
class Schedule:
    """A valid schedule. Build it with `parse_schedule`; constructing one validates `text`.

    `text` is the expression as given, stripped and with single spaces; `interval_seconds`
    is set for `N seconds` schedules and None otherwise.
    """

    text: str
    interval_seconds: int | None = None
    # The 5-field expression cronsim evaluates ("" for interval schedules).
    _cron: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = _parse(self.text)
        if self.interval_seconds not in (None, parsed.interval_seconds):
            raise ValueError(f"interval_seconds does not match schedule {self.text!r}")
        # Frozen dataclass: derived fields are set once, here, and never change.
        object.__setattr__(self, "interval_seconds", parsed.interval_seconds)
        object.__setattr__(self, "_cron", parsed.cron)

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first fire instant strictly after `after`, evaluated in zone `tz`.

        `after` is aware (any offset); the result is aware, in UTC, and a whole second.
        Interval schedules ignore `tz`. Raises ValueError for a naive `after`.
        """
        start = utc(after)
        if self.interval_seconds is not None:
            return _next_interval(start, self.interval_seconds)
        return _next_cron(self._cron, start, tz)

    def describe(self) -> str:
        """The schedule in English words ("Every 10 seconds", "At 02:30", ...)."""
        if self.interval_seconds is not None:
            if self.interval_seconds == 1:
                return "Every second"
            return f"Every {self.interval_seconds} seconds"
        return _describe_cron(self._cron)


def _shown(text: str) -> str:
    """`text` quoted for an error message, shortened so one line stays one line."""
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


def _parse(text: str) -> _Parsed:
    if not text:
        raise ScheduleError(f"invalid schedule '': the schedule is empty ({_SYNTAX_HINT})")
    if len(text) > MAX_SCHEDULE_LENGTH:
        raise ScheduleError(
            f"invalid schedule {_shown(text)}: it is {len(text)} characters long"
            f" (at most {MAX_SCHEDULE_LENGTH})"
        )
    try:
        if text.startswith("@"):
            return _Parsed(None, _parse_cron(_expand_macro(text)))
        interval = _INTERVAL_RE.fullmatch(text)
        if interval:
            return _Parsed(_parse_interval(interval[1], interval[2].lower()), "")
        return _Parsed(None, _parse_cron(text))
    except _ParseError as exc:
        raise ScheduleError(f"invalid schedule {_shown(text)}: {exc}") from None


class _ParseError(Exception):
    """What is wrong with a schedule, before the schedule text is prefixed."""


def _expand_macro(text: str) -> str:
    name = text[1:].lower()
    if name in ("reboot", "restart"):
        raise _ParseError(
            f"@{name} is not supported: avisa runs jobs on a clock, not when a process"
            " starts (use a schedule such as @daily)"
        )
    if " " in name:
        raise _ParseError(f"a macro stands alone, with no other fields (use {_MACRO_LIST})")
    if name not in _MACROS:
        raise _ParseError(f"unknown macro {text!r} (use {_MACRO_LIST})")
    return _MACROS[name]


def _parse_interval(number: str, unit: str) -> int:
    if unit not in ("second", "seconds"):
        if unit.rstrip("s") in ("minute", "min", "hour", "day"):
            raise _ParseError(
                "intervals are in seconds only (1-59); for minutes or hours use a cron"
                " expression, e.g. '*/5 * * * *' for every 5 minutes"
            )
        raise _ParseError(f"unknown interval unit {unit!r} (write 'N seconds', N from 1 to 59)")
    # Cap the digits before int(): a huge number is out of range whatever it is.
    seconds = int(number) if len(number) <= 6 else MAX_INTERVAL_SECONDS + 1
    if not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS:
        raise _ParseError(
            f"interval {number} seconds is out of range"
            f" {MIN_INTERVAL_SECONDS}-{MAX_INTERVAL_SECONDS}"
            " (for every minute or longer use a cron expression like '* * * * *')"
        )
    return seconds


def _parse_cron(text: str) -> str:
    """Validate a 5-field expression; return it rewritten for cronsim (numbers, `L`)."""
    parts = text.split(" ")
    if len(parts) == 6:
        raise _ParseError(
            "expected 5 fields (minute hour day-of-month month day-of-week), got 6: avisa"
            " has no seconds field (use 'N seconds' for sub-minute schedules)"
        )
    if len(parts) != len(_FIELDS):
        raise _ParseError(
            "expected 5 fields (minute hour day-of-month month day-of-week), got"
            f" {len(parts)} ({_SYNTAX_HINT})"
        )
    fields = [_parse_field(spec, part) for spec, part in zip(_FIELDS, parts, strict=True)]
    _check_can_fire(parts, fields)
    cron = " ".join(rewritten for _, _, rewritten in fields)
    try:
        # Belt and braces: everything accepted above must be something cronsim reads.
        CronSim(cron, datetime(2000, 1, 1))  # noqa: DTZ001 - cronsim's naive mode, no clock read
    except CronSimError as exc:  # pragma: no cover - the checks above are stricter
        raise _ParseError(f"cron evaluation refused it ({exc})") from None
    return cron


def _parse_field(spec: _Field, text: str) -> tuple[set[int], bool, str]:
    """The values a field selects, whether it holds `$`, and its text for cronsim."""
    values: set[int] = set()
    has_last = False
    rewritten: list[str] = []
    for item in text.split(","):
        if not item:
            raise _ParseError(f"{spec.name} field {text!r} has an empty list element")
        if "$" in item:
            if spec is not _DOM:
                raise _ParseError(
                    f"{spec.name} field {text!r}: '$' (last day of the month) is only"
                    " allowed in the day-of-month field"
                )
            if item != "$":
                raise _ParseError(
                    f"day-of-month {item!r}: '$' (last day of the month) stands alone or"
                    " in a list like '1,15,$', not in a range or step"
                )
            has_last = True
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
            if dash and end < start:
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
    return values, has_last, ",".join(rewritten)


def _value(spec: _Field, token: str, text: str, *, range_end: bool = False) -> int:
    if not token:
        raise _ParseError(f"{spec.name} field {text!r} is missing a number")
    if _NUMBER_RE.fullmatch(token):
        # Cap the digits before int(): a huge number is out of range whatever it is.
        value = int(token) if len(token) <= 6 else spec.high + 1
        if not spec.low <= value <= spec.high:
            raise _ParseError(f"{spec.name} value {token} is out of range {spec.low}-{spec.high}")
        return value
    name = token.lower()
    if name in spec.names:
        # `sun` closes a range as 7 so that `fri-sun` means Friday to Sunday, not an error.
        if range_end and spec is _DOW and name == "sun":
            return 7
        return spec.names.index(name) + spec.name_base
    if spec.names:
        raise _ParseError(
            f"{spec.name} value {token!r} is not a number or a name"
            f" ({spec.names[0]}-{spec.names[-1]})"
        )
    raise _ParseError(f"{spec.name} value {token!r} is not a number")


def _step(spec: _Field, token: str, item: str) -> int:
    if not _NUMBER_RE.fullmatch(token):
        raise _ParseError(f"{spec.name} {item!r} needs a number after '/'")
    step = int(token) if len(token) <= 6 else spec.high + 1
    if not 1 <= step <= spec.high:
        raise _ParseError(f"{spec.name} step {token} is out of range 1-{spec.high}")
    return step


def _check_can_fire(parts: list[str], fields: list[tuple[set[int], bool, str]]) -> None:
    """Refuse day-of-month/month combinations that never occur, such as February 30.

    Only the AND case can be empty: when either day field starts with `*`, a day must match
    both (Debian cron); otherwise the day-of-week side alone matches every week. A day that
    exists matches every day of the week within 40 years (February 29 included), well
    inside cronsim's 50-year search, so this check is the whole of "can never fire".
    """
    days, has_last, _ = fields[2]
    months, _, _ = fields[3]
    if has_last or not (parts[2].startswith("*") or parts[4].startswith("*")):
        return
    if any(day <= _MONTH_DAYS[month - 1] for day in days for month in months):
        return
    names = [_MONTH_WORDS[month - 1] for month in sorted(months)]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "has" if len(names) == 1 else "have"
    raise _ParseError(f"it never fires: {listed} {verb} no day {min(days)}")


def _next_interval(after: datetime, seconds: int) -> datetime:
    # Integer arithmetic on microseconds: floats would misplace ticks far from the epoch.
    elapsed = (after - _EPOCH) // timedelta(microseconds=1)
    whole_seconds = elapsed // 1_000_000
    return _EPOCH + timedelta(seconds=(whole_seconds // seconds + 1) * seconds)


def _is_wildcard(cron: str) -> bool:
    """Debian cron's "wildcard job": the minute or hour field starts with `*`."""
    minute, hour = cron.split(" ")[:2]
    return minute.startswith("*") or hour.startswith("*")


def _next_cron(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    if _is_wildcard(cron):
        return _next_wildcard(cron, after, tz)
    return _next_fixed(cron, after, tz)


def _next_fixed(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """Fixed-time jobs: cronsim's naive-local evaluation, minus fires already past.

    cronsim returns each matching wall time once (first occurrence of a repeated time,
    end of the gap for a skipped one). Starting from an instant in the second occurrence
    of an overlap, its first candidates can be first occurrences that lie before `after`:
    they already fired, so they are skipped rather than fired twice.
    """
    candidates = _cronsim(cron, after.astimezone(tz))
    for _ in range(_MAX_CANDIDATES):
        candidate = _next_candidate(candidates, cron, after).astimezone(UTC)
        if candidate > after:
            return candidate
    raise ScheduleError(f"schedule {cron!r}: no fire time found after {after.isoformat()}")


def _next_wildcard(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """Wildcard jobs: the first real instant after `after` whose wall time matches.

    While the zone's UTC offset is constant, wall time and real time move together, so
    cronsim evaluating in that fixed offset is exact. When its answer lies past an offset
    change, the search restarts at the change, in the new offset. This sidesteps cronsim's
    wall-clock `replace()` steps, which can jump over part of a half-hour overlap.
    """
    start, offset = after, _offset(after, tz)
    for _ in range(_MAX_CANDIDATES):
        candidates = _cronsim(cron, start.astimezone(timezone(offset)))
        candidate = _next_candidate(candidates, cron, after).astimezone(UTC)
        change = _offset_change(start, candidate, tz, offset)
        if change is None:
            return candidate
        # Fires are whole seconds and so are offset changes: the change itself may fire.
        start, offset = change - timedelta(microseconds=1), _offset(change, tz)
    raise ScheduleError(f"schedule {cron!r}: no fire time found after {after.isoformat()}")


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    # A ZoneInfo always knows the offset of an aware instant; `or` only satisfies the types.
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _offset_change(
    start: datetime, end: datetime, tz: ZoneInfo, offset: timedelta
) -> datetime | None:
    """The first instant in (start, end] where `tz`'s offset is no longer `offset`, if any.

    Probes every `_PROBE` (no zone changes its offset twice that quickly), then bisects
    down to the whole second the change happens at (zone transitions are whole seconds).
    """
    low = start
    while low < end:
        high = min(low + _PROBE, end)
        if _offset(high, tz) != offset:
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if _offset(middle, tz) == offset:
                    low = middle
                else:
                    high = middle
            # (low, high] is at most one second long and holds the change: the first whole
            # second after `low`.
            return low.replace(microsecond=0) + timedelta(seconds=1)
        low = high
    return None


def _cronsim(cron: str, start: datetime) -> CronSim:
    return CronSim(cron, start)


def _next_candidate(candidates: CronSim, cron: str, after: datetime) -> datetime:
    try:
        return next(candidates)
    except (StopIteration, OverflowError):
        # Unreachable for schedules that passed `_check_can_fire`, short of year 9999.
        raise ScheduleError(
            f"schedule {cron!r}: no fire time found after {after.isoformat()}"
        ) from None


@lru_cache(maxsize=256)
def _describe_cron(cron: str) -> str:
    options = Options(locale_code="en_US", use_24hour_time_format=True)
    try:
        words = ExpressionDescriptor(cron, options).get_description()
    except Exception:  # the description is a courtesy: never let it break a listing
        return cron
    # cron-descriptor reads `L` alone as "the last day" but prints it raw inside a list.
    return re.sub(r"\bL\b", "the last day", words)
