"""Schedules: parsing, validation, descriptions and next-fire times away from DST changes.

DST days are in test_schedule_dst.py; random expressions against croniter and against a
brute-force model are in test_schedule_properties.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from avisa.cron.schedule import Schedule, ScheduleError, parse_schedule, parse_timezone
from avisa.errors import AvisaError

UTC_ZONE = ZoneInfo("UTC")
MADRID = ZoneInfo("Europe/Madrid")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(text: str, after: datetime, count: int, tz: ZoneInfo = UTC_ZONE) -> list[datetime]:
    """The next `count` fires of `text` after `after`, chaining `next_after`."""
    schedule = parse_schedule(text)
    result: list[datetime] = []
    for _ in range(count):
        after = schedule.next_after(after, tz)
        result.append(after)
    return result


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "text", "interval"),
    [
        ("30 2 * * *", "30 2 * * *", None),
        ("  30   2 *\t* *  ", "30 2 * * *", None),
        ("10 seconds", "10 seconds", 10),
        (" 30 sEcOnDs ", "30 sEcOnDs", 30),
        ("17  seconds ", "17 seconds", 17),
        ("1 second", "1 second", 1),
        ("59 seconds", "59 seconds", 59),
        ("@daily", "@daily", None),
        ("@HOURLY", "@HOURLY", None),
        ("0 0 1,15,$ * *", "0 0 1,15,$ * *", None),
    ],
)
def test_parse_normalises_text_and_detects_intervals(
    given: str, text: str, interval: int | None
) -> None:
    """`text` is the expression as given, stripped and single-spaced (case kept, as
    pg_cron stores it); `interval_seconds` is set only for `N seconds` schedules."""
    schedule = parse_schedule(given)
    assert schedule.text == text
    assert schedule.interval_seconds == interval


def test_schedules_compare_by_text_and_construct_validated() -> None:
    """A Schedule is a value: equal texts are equal schedules. Constructing one directly
    validates it too, so no invalid Schedule can exist."""
    assert parse_schedule(" 0  * * * *") == Schedule("0 * * * *")
    assert Schedule("  @daily ").text == "@daily"
    assert Schedule("10 seconds").interval_seconds == 10
    with pytest.raises(ScheduleError):
        Schedule("61 * * * *")
    with pytest.raises(ValueError, match="does not match"):
        Schedule("10 seconds", interval_seconds=5)


# --- invalid input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid schedule '': the schedule is empty"),
        ("   ", "invalid schedule '': the schedule is empty"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("0 0 * * * *", "got 6: avisa has no seconds field"),
        ("every day", "expected 5 fields"),
        ("garbage", "expected 5 fields"),
        ("61 * * * *", "invalid schedule '61 * * * *': minute value 61 is out of range 0-59"),
        ("0 24 * * *", "hour value 24 is out of range 0-23"),
        ("0 0 32 * *", "day-of-month value 32 is out of range 1-31"),
        ("0 0 0 * *", "day-of-month value 0 is out of range 1-31"),
        ("0 0 * 13 *", "month value 13 is out of range 1-12"),
        ("0 0 * 0 *", "month value 0 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week value 8 is out of range 0-7"),
        ("99999999999 * * * *", "minute value 99999999999 is out of range 0-59"),
        ("0 0 * foo *", "month value 'foo' is not a number or a name (jan-dec)"),
        ("0 0 * * monday", "day-of-week value 'monday' is not a number or a name (sun-sat)"),
        ("0 0 * january *", "month value 'january' is not a number or a name"),
        ("x 0 * * *", "minute value 'x' is not a number"),
        ("0 mon * * *", "hour value 'mon' is not a number"),
        ("-5 * * * *", "minute field '-5' is missing a number"),
        ("5- * * * *", "minute field '5-' is missing a number"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list element"),
        ("1, * * * *", "minute field '1,' has an empty list element"),
        ("1-2-3 * * * *", "minute value '2-3' is not a number"),
        ("30-10 * * * *", "minute range '30-10' is reversed"),
        ("0 0 * * fri-mon", "day-of-week range 'fri-mon' is reversed"),
        ("*/0 * * * *", "minute step 0 is out of range 1-59"),
        ("*/60 * * * *", "minute step 60 is out of range 1-59"),
        ("0 */24 * * *", "hour step 24 is out of range 1-23"),
        ("*/ * * * *", "minute '*/' needs a number after '/'"),
        ("*/x * * * *", "minute '*/x' needs a number after '/'"),
        ("5/15 * * * *", "minute '5/15' has a step without a range (write 5-59/15)"),
        ("0 0 30 2 *", "invalid schedule '0 0 30 2 *': it never fires: February has no day 30"),
        ("0 0 31 2,4,6 *", "it never fires: February, April and June have no day 31"),
        ("0 0 30,31 feb *", "it never fires: February has no day 30"),
        ("0 $ * * *", "hour field '$': '$' (last day of the month) is only allowed in the day"),
        ("0 0 * * $", "day-of-week field '$'"),
        ("0 0 $-3 * *", "'$' (last day of the month) stands alone or in a list"),
        ("0 0 25-$ * *", "not in a range or step"),
        ("0 0 $/2 * *", "not in a range or step"),
        ("0 0 L * *", "day-of-month value 'L' is not a number"),
        ("0 0 ? * *", "day-of-month value '?' is not a number"),
        ("0 0 * * 5#2", "day-of-week value '5#2' is not a number or a name"),
        ("0 seconds", "interval 0 seconds is out of range 1-59"),
        ("60 seconds", "interval 60 seconds is out of range 1-59"),
        ("-1 seconds", "interval -1 seconds is out of range 1-59"),
        ("10000000000 seconds", "interval 10000000000 seconds is out of range 1-59"),
        ("5 minutes", "intervals are in seconds only (1-59)"),
        ("2 hours", "intervals are in seconds only"),
        ("5 secondc", "unknown interval unit 'secondc'"),
        ("50 seconds c", "expected 5 fields"),
        ("@reboot", "@reboot is not supported"),
        ("@restart", "@restart is not supported"),
        ("@restar", "unknown macro '@restar' (use @yearly, @annually, @monthly, @weekly"),
        ("@daily 5", "a macro stands alone"),
        ("@", "unknown macro '@'"),
        ("1 " * 150, "characters long (at most 200)"),
    ],
)
def test_invalid_schedules_are_refused_with_a_message_naming_the_problem(
    text: str, message: str
) -> None:
    """Every invalid schedule raises ScheduleError (an AvisaError, shown as one line)
    that names the field, the value and what is wrong; never another exception."""
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert isinstance(caught.value, AvisaError)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_error_messages_shorten_long_schedules() -> None:
    """A long bad schedule is quoted shortened, so the message stays one readable line."""
    with pytest.raises(ScheduleError) as caught:
        parse_schedule("1 2 3 4 5 " + "6 " * 50)
    assert len(str(caught.value)) < 250


# --- time zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/Madrid", "America/New_York", "Australia/Lord_Howe", "Etc/GMT+3"]
)
def test_parse_timezone_accepts_iana_names(name: str) -> None:
    """IANA names give the ZoneInfo of that name."""
    assert parse_timezone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name",
    ["", "Mars/Olympus", "Europe/madrid ", " UTC", "CEST+2", "../etc/passwd", "/etc/localtime"],
)
def test_parse_timezone_refuses_unknown_names(name: str) -> None:
    """Anything that is not an IANA zone name is refused with the standard hint."""
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(name)
    assert str(caught.value) == (
        f"unknown time zone {name!r} (use an IANA name like Europe/Madrid)"
    )


# --- next fire -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        pytest.param(
            "* * * * *",
            at(2026, 1, 1, 0, 0, 0),
            [at(2026, 1, 1, 0, 1), at(2026, 1, 1, 0, 2), at(2026, 1, 1, 0, 3)],
            id="every-minute-strictly-after",
        ),
        pytest.param(
            "30 2 * * *",
            at(2026, 1, 1, 2, 30, 0),
            [at(2026, 1, 2, 2, 30), at(2026, 1, 3, 2, 30)],
            id="fixed-time-at-after-is-not-repeated",
        ),
        pytest.param(
            "*/15 * * * *",
            at(2026, 1, 1, 0, 7, 30),
            [
                at(2026, 1, 1, 0, 15),
                at(2026, 1, 1, 0, 30),
                at(2026, 1, 1, 0, 45),
                at(2026, 1, 1, 1),
            ],
            id="step",
        ),
        pytest.param(
            "1-30/10 * * * *",
            at(2026, 1, 1, 0, 0),
            [
                at(2026, 1, 1, 0, 1),
                at(2026, 1, 1, 0, 11),
                at(2026, 1, 1, 0, 21),
                at(2026, 1, 1, 1, 1),
            ],
            id="range-with-step",
        ),
        pytest.param(
            "5,10,50 9-10 * * *",
            at(2026, 1, 1, 9, 7),
            [at(2026, 1, 1, 9, 10), at(2026, 1, 1, 9, 50), at(2026, 1, 1, 10, 5)],
            id="lists-and-ranges",
        ),
        pytest.param(
            "0 9 * * mon-fri",
            at(2026, 1, 2, 10, 0),  # a Friday, after 09:00
            [at(2026, 1, 5, 9), at(2026, 1, 6, 9), at(2026, 1, 7, 9)],
            id="weekday-names",
        ),
        pytest.param(
            "0 9 * JAN,Jul SUN",
            at(2026, 1, 20),
            [at(2026, 1, 25, 9), at(2026, 7, 5, 9), at(2026, 7, 12, 9)],
            id="names-any-case-and-restricted-month",
        ),
        pytest.param(
            "0 0 * * 7",
            at(2026, 1, 1),
            [at(2026, 1, 4), at(2026, 1, 11)],
            id="day-of-week-7-is-sunday",
        ),
        pytest.param(
            "0 0 * * sat-sun",
            at(2026, 1, 1),
            [at(2026, 1, 3), at(2026, 1, 4), at(2026, 1, 10)],
            id="sun-closes-a-range",
        ),
        pytest.param(
            "0 0 13 * fri",
            at(2026, 2, 1),
            [at(2026, 2, 6), at(2026, 2, 13), at(2026, 2, 20), at(2026, 2, 27), at(2026, 3, 6)],
            id="both-day-fields-restricted-means-either",
        ),
        pytest.param(
            "0 0 */10 * mon",
            at(2026, 1, 1),
            [at(2026, 5, 11), at(2026, 6, 1), at(2026, 8, 31)],
            id="star-step-day-field-means-both",
        ),
        pytest.param(
            "0 0 29 2 *",
            at(2026, 1, 1),
            [at(2028, 2, 29), at(2032, 2, 29)],
            id="february-29-waits-for-leap-years",
        ),
        pytest.param(
            "0 12 $ * *",
            at(2027, 12, 31, 12),
            [
                at(2028, 1, 31, 12),
                at(2028, 2, 29, 12),
                at(2028, 3, 31, 12),
                at(2028, 4, 30, 12),
                at(2028, 5, 31, 12),
                at(2028, 6, 30, 12),
            ],
            id="last-day-of-month-31-29-31-30",
        ),
        pytest.param(
            "0 0 $ 2 *",
            at(2026, 1, 1),
            [at(2026, 2, 28), at(2027, 2, 28), at(2028, 2, 29), at(2029, 2, 28)],
            id="last-day-of-february-leap-and-not",
        ),
        pytest.param(
            "0 0 1,15,$ * *",
            at(2026, 4, 2),
            [at(2026, 4, 15), at(2026, 4, 30), at(2026, 5, 1), at(2026, 5, 15), at(2026, 5, 31)],
            id="last-day-in-a-list",
        ),
        pytest.param(
            "0 0 $ * fri",
            at(2026, 1, 25),
            [at(2026, 1, 30), at(2026, 1, 31), at(2026, 2, 6)],
            id="last-day-or-friday",
        ),
        pytest.param("@yearly", at(2026, 3, 1), [at(2027, 1, 1), at(2028, 1, 1)], id="yearly"),
        pytest.param("@annually", at(2026, 3, 1), [at(2027, 1, 1)], id="annually"),
        pytest.param("@monthly", at(2026, 1, 15), [at(2026, 2, 1), at(2026, 3, 1)], id="monthly"),
        pytest.param(
            "@weekly", at(2026, 1, 1), [at(2026, 1, 4), at(2026, 1, 11)], id="weekly-sunday"
        ),
        pytest.param("@daily", at(2026, 1, 1, 5), [at(2026, 1, 2), at(2026, 1, 3)], id="daily"),
        pytest.param("@midnight", at(2026, 1, 1, 5), [at(2026, 1, 2)], id="midnight"),
        pytest.param(
            "@hourly",
            at(2026, 1, 1, 5, 0, 1),
            [at(2026, 1, 1, 6), at(2026, 1, 1, 7)],
            id="hourly",
        ),
    ],
)
def test_next_fires_in_utc(text: str, after: datetime, expected: list[datetime]) -> None:
    """Chained `next_after` yields exactly the expected fires, in order, strictly after
    `after` (Debian cron semantics, pg_cron's `$` and macros)."""
    assert fires(text, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        pytest.param(
            "10 seconds",
            at(2026, 1, 1, 0, 0, 5) + timedelta(microseconds=500_000),
            [at(2026, 1, 1, 0, 0, 10), at(2026, 1, 1, 0, 0, 20), at(2026, 1, 1, 0, 0, 30)],
            id="aligned-to-the-minute",
        ),
        pytest.param(
            "10 seconds",
            at(2026, 1, 1, 0, 0, 50),
            [at(2026, 1, 1, 0, 1, 0), at(2026, 1, 1, 0, 1, 10)],
            id="on-a-tick-gives-the-next",
        ),
        pytest.param(
            "1 second",
            at(2026, 1, 1) - timedelta(microseconds=1),
            [at(2026, 1, 1, 0, 0, 0), at(2026, 1, 1, 0, 0, 1)],
            id="one-second",
        ),
        pytest.param(
            "59 seconds",
            at(1970, 1, 1),
            [at(1970, 1, 1, 0, 0, 59), at(1970, 1, 1, 0, 1, 58)],
            id="epoch-aligned-59",
        ),
        pytest.param(
            "7 seconds",
            at(2026, 1, 1),  # 1767225600 is 7 * 252460800: a tick
            [at(2026, 1, 1, 0, 0, 7), at(2026, 1, 1, 0, 0, 14)],
            id="epoch-aligned-7",
        ),
        pytest.param(
            "7 seconds",
            at(2026, 1, 1, 0, 0, 56),
            [at(2026, 1, 1, 0, 1, 3), at(2026, 1, 1, 0, 1, 10)],
            id="7-drifts-through-the-minute-with-an-exact-period",
        ),
    ],
)
def test_interval_schedules_tick_on_multiples_of_n_since_the_epoch(
    text: str, after: datetime, expected: list[datetime]
) -> None:
    """`N seconds` fires at every Unix time divisible by N: a fixed period of exactly N
    seconds, on the minute boundary when N divides 60."""
    assert fires(text, after, len(expected)) == expected


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_interval_schedules_ignore_the_time_zone_and_dst(zone: str) -> None:
    """Interval ticks are the same in every zone, also across a DST change."""
    after = at(2026, 3, 29, 0, 59, 30)  # Madrid springs forward at 01:00 UTC
    assert fires("15 seconds", after, 4, ZoneInfo(zone)) == [
        at(2026, 3, 29, 0, 59, 45),
        at(2026, 3, 29, 1, 0, 0),
        at(2026, 3, 29, 1, 0, 15),
        at(2026, 3, 29, 1, 0, 30),
    ]


def test_cron_schedules_match_the_wall_clock_of_their_zone() -> None:
    """`0 9 * * *` in Europe/Madrid is 08:00 UTC in winter (CET) and 07:00 UTC in summer
    (CEST); in Asia/Kathmandu (+05:45) it is 03:15 UTC."""
    schedule = parse_schedule("0 9 * * *")
    assert schedule.next_after(at(2026, 1, 10), MADRID) == at(2026, 1, 10, 8)
    assert schedule.next_after(at(2026, 7, 10), MADRID) == at(2026, 7, 10, 7)
    assert schedule.next_after(at(2026, 7, 10), ZoneInfo("Asia/Kathmandu")) == at(
        2026, 7, 10, 3, 15
    )


def test_next_after_takes_any_offset_and_answers_in_utc() -> None:
    """`after` may carry any offset; the answer is the same instant-wise and in UTC, a
    whole second even when `after` has microseconds."""
    schedule = parse_schedule("*/5 * * * *")
    plus_two = timezone(timedelta(hours=2))
    result = schedule.next_after(datetime(2026, 5, 1, 12, 3, 7, 123, tzinfo=plus_two), MADRID)
    assert result == at(2026, 5, 1, 10, 5)
    assert result.tzinfo is UTC
    assert result.microsecond == 0
    interval = parse_schedule("30 seconds").next_after(
        datetime(2026, 5, 1, 12, 0, 1, tzinfo=plus_two), MADRID
    )
    assert interval == at(2026, 5, 1, 10, 0, 30)
    assert interval.tzinfo is UTC


@pytest.mark.parametrize("text", ["* * * * *", "30 2 * * *", "10 seconds", "@daily"])
def test_next_after_refuses_a_naive_datetime(text: str) -> None:
    """A naive `after` is ambiguous: ValueError rather than a guess."""
    with pytest.raises(ValueError, match="naive"):
        parse_schedule(text).next_after(datetime(2026, 1, 1), UTC_ZONE)  # noqa: DTZ001


# --- descriptions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0 * * * *", "Every hour"),
        ("*/30 * * * *", "Every 30 minutes"),
        ("30 2 * * *", "At 02:30"),
        ("15 10 * * mon-fri", "At 10:15, Monday through Friday"),
        ("0 0 $ * *", "At 00:00, on the last day of the month"),
        ("0 0 1,15,$ * *", "At 00:00, on day 1, 15, and the last day of the month"),
        ("0 0 13 * fri", "At 00:00, on day 13 of the month, or on Friday"),
        ("@daily", "At 00:00"),
        ("@hourly", "Every hour"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("@monthly", "At 00:00, on day 1 of the month"),
        ("@yearly", "At 00:00, on day 1 of the month, only in January"),
        ("10 seconds", "Every 10 seconds"),
        ("1 second", "Every second"),
    ],
)
def test_describe_in_english(text: str, words: str) -> None:
    """describe() renders cron expressions through cron-descriptor (24-hour clock),
    macros through their expansion, `$` as "the last day", intervals directly."""
    assert parse_schedule(text).describe() == words
