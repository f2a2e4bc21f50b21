"""Random schedules against two references: croniter (in UTC) and a brute-force model of
Debian cron's DST rules (in zones with DST, around their changes).

croniter comparison: both must give the same next 20 fires, where both define the same
meaning. Excluded from the generated expressions, each for a difference in croniter 7:
- Single-value ranges `a-a`: croniter expands `11-11` to `*` and `57-57/59` to 0 and 59;
  Vixie cron, pg_cron and avisa read them as the one value `a` (the model test below
  covers them).
- A `*` element after the first in a day-of-month or day-of-week list (`5,*`): Debian and
  pg_cron choose between AND and OR of the two day fields by the field's first character
  only; croniter treats any `*` in the list as a star. (A field starting with `*`, `*/n`
  included, is generated and compared, with croniter's `implement_cron_bug=True`, which
  is Vixie's documented first-character rule.)
- Zones other than UTC: croniter's DST handling is not Debian's (tested against the model
  instead).
Not generated because avisa refuses them (pg_cron does too, or they are mistakes): steps
on a single value (`5/15`), steps larger than the field's maximum, cronsim's extensions
(`L`, `W`, `#`); `$` is generated and compared as croniter's `L`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avisa.cron.schedule import ScheduleError, parse_schedule
from avisa.cron.schedule_syntax import FIELDS, ParsedField, parse_field

# The autouse environment fixture only clears AVISA_ variables and changes directory:
# sharing it between the examples of one test is harmless.
PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES: dict[int, tuple[str, ...]] = {
    3: ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    4: ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}


def value_token(draw: st.DrawFn, index: int, value: int) -> str:
    """`value` as a number or, in month and day-of-week fields, sometimes as a name."""
    spec = FIELDS[index]
    names = NAMES.get(index)
    if names and value - spec.name_base < len(names) and draw(st.booleans()):
        name = names[value - spec.name_base]
        return name.upper() if draw(st.booleans()) else name
    return str(value)


@st.composite
def field_item(draw: st.DrawFn, index: int, *, star: bool) -> str:
    """One list element: `*`, `*/s`, `a`, `a-b` (a < b) or `a-b/s`."""
    spec = FIELDS[index]
    kinds = ["value", "range", "stepped-range"] + (["star", "star-step"] if star else [])
    kind = draw(st.sampled_from(kinds))
    step = draw(st.integers(1, spec.high))
    if kind == "star":
        return "*"
    if kind == "star-step":
        return f"*/{step}"
    start = draw(st.integers(spec.low, spec.high))
    if kind == "value" or start == spec.high:
        return value_token(draw, index, start)
    end = draw(st.integers(start + 1, spec.high))
    span = f"{value_token(draw, index, start)}-{value_token(draw, index, end)}"
    return f"{span}/{step}" if kind == "stepped-range" else span


@st.composite
def cron_field(draw: st.DrawFn, index: int) -> str:
    first = draw(field_item(index, star=True))
    # A `*` after the first element of a day field means something else to croniter.
    rest = draw(st.lists(field_item(index, star=index not in (2, 4)), max_size=2))
    items = [first, *rest]
    if index == 2 and draw(st.integers(0, 5)) == 0:
        items = ["$"] if draw(st.booleans()) else [*items, "$"]
    return ",".join(items)


@st.composite
def cron_expressions(draw: st.DrawFn) -> str:
    return " ".join(draw(cron_field(index)) for index in range(5))


# Hypothesis takes naive bounds and attaches the zone itself.
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2060, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@PROPERTY_SETTINGS
@given(expression=cron_expressions(), start=instants)
def test_next_20_fires_match_croniter_in_utc(expression: str, start: datetime) -> None:
    """For random valid expressions (numbers, names, ranges, steps, lists, `$`) the next
    20 fires after a random instant equal croniter's, with Vixie's day-field rule."""
    try:
        schedule = parse_schedule(expression)
    except ScheduleError:
        # Only "never fires" combinations (like February 30) are refused here.
        return
    reference = croniter(expression.replace("$", "L"), start, implement_cron_bug=True)
    expected = [reference.get_next(datetime) for _ in range(20)]
    utc_zone = ZoneInfo("UTC")
    actual: list[datetime] = []
    current = start
    for _ in range(20):
        current = schedule.next_after(current, utc_zone)
        actual.append(current)
    assert actual == expected


# --- a brute-force model of Debian cron in a zone ------------------------------------

MODEL_ZONES = (
    "Europe/Madrid",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Antarctica/Troll",
    "America/St_Johns",
)
HORIZON = timedelta(days=3)


@cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """The instants in 2026 when `zone` changes its UTC offset (to the minute)."""
    tz = ZoneInfo(zone)
    found: list[datetime] = []
    instant = datetime(2026, 1, 1, tzinfo=UTC)
    while instant.year == 2026:
        following = instant + timedelta(hours=1)
        if following.astimezone(tz).utcoffset() != instant.astimezone(tz).utcoffset():
            minute = instant
            while minute.astimezone(tz).utcoffset() == instant.astimezone(tz).utcoffset():
                minute += timedelta(minutes=1)
            found.append(minute)
        instant = following
    return tuple(found)


def day_matches(parts: list[str], fields: list[ParsedField], day: date) -> bool:
    """Debian: AND of the day fields if either starts with `*`, else OR."""
    dom, month, dow = fields[2], fields[3], fields[4]
    if day.month not in month.values:
        return False
    is_last = day.day == calendar.monthrange(day.year, day.month)[1]
    dom_ok = day.day in dom.values or (dom.last_day and is_last)
    weekday = (day.weekday() + 1) % 7  # cron numbering, Sunday 0 (and 7)
    dow_ok = weekday in dow.values or (weekday == 0 and 7 in dow.values)
    if parts[2].startswith("*") or parts[4].startswith("*"):
        return dom_ok and dow_ok
    return dom_ok or dow_ok


def wall_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant a fixed-time job for naive local `wall` fires: its first occurrence,
    or, if the wall time does not exist, the first real minute after it (the gap's end)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first
    minute = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # before the gap's end
    while minute.astimezone(tz).replace(tzinfo=None) < wall:
        minute += timedelta(minutes=1)
    return minute


def model_next(expression: str, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first fire in (after, after + HORIZON], by enumeration rather than search."""
    parts = expression.split(" ")
    fields = [parse_field(spec, part) for spec, part in zip(FIELDS, parts, strict=True)]
    minutes, hours = fields[0].values, fields[1].values
    horizon = after + HORIZON
    if parts[0].startswith("*") or parts[1].startswith("*"):
        # Wildcard job: every real minute whose wall time matches.
        minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while minute <= horizon:
            wall = minute.astimezone(tz)
            matches = wall.minute in minutes and wall.hour in hours
            if matches and day_matches(parts, fields, wall.date()):
                return minute
            minute += timedelta(minutes=1)
        return None
    # Fixed-time job: each matching local date and time once.
    fires: list[datetime] = []
    day = after.astimezone(tz).date() - timedelta(days=1)
    while day <= horizon.astimezone(tz).date() + timedelta(days=1):
        if day_matches(parts, fields, day):
            for hour in hours:
                for minute_value in minutes:
                    instant = wall_instant(datetime.combine(day, time(hour, minute_value)), tz)
                    if after < instant <= horizon:
                        fires.append(instant)
        day += timedelta(days=1)
    return min(fires, default=None)


@st.composite
def dense_cron_expressions(draw: st.DrawFn) -> str:
    """Expressions that usually fire within days: the date fields are often `*`."""
    fields = [draw(cron_field(0)), draw(cron_field(1))]
    for index in (2, 3, 4):
        fields.append(draw(st.one_of(st.just("*"), st.just("*"), cron_field(index))))
    return " ".join(fields)


@st.composite
def near_a_transition(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    zone = draw(st.sampled_from(MODEL_ZONES))
    transition = draw(st.sampled_from(transitions(zone)))
    shift = draw(st.integers(-30 * 3600 * 1000, 6 * 3600 * 1000))
    return ZoneInfo(zone), transition + timedelta(milliseconds=shift)


@PROPERTY_SETTINGS
@given(expression=dense_cron_expressions(), where=near_a_transition())
def test_next_fire_near_dst_changes_matches_a_brute_force_model(
    expression: str, where: tuple[ZoneInfo, datetime]
) -> None:
    """From any instant up to 30 hours before (or 6 after) a 2026 offset change in zones
    with 1-hour, 30-minute, 2-hour and midnight changes, `next_after` equals a model that
    enumerates minutes (wildcard jobs) or local dates and times (fixed-time jobs)."""
    tz, after = where
    try:
        schedule = parse_schedule(expression)
    except ScheduleError:
        return
    expected = model_next(expression, tz, after)
    actual = schedule.next_after(after, tz)
    if expected is None:
        assert actual > after + HORIZON
    else:
        assert actual == expected


@pytest.mark.parametrize("zone", MODEL_ZONES)
def test_the_model_zones_change_offset_in_2026(zone: str) -> None:
    """Each model zone has offset changes in 2026 (so the model test exercises them)."""
    assert len(transitions(zone)) >= 2
