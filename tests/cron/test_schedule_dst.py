"""Schedules on DST change days: Debian cron's rules, exactly once.

Fixed-time jobs fire once per local day: a time in the spring-forward gap at the end of
the gap, a time in the fall-back overlap at its first occurrence. Wildcard jobs (minute or
hour field starting with `*`) follow the wall clock through both changes, with no
duplicate and no gap in UTC beyond what the wall clock implies.

The 2026 transitions used here (checked by the first test):
- Europe/Madrid: 29 Mar 01:00 UTC, 02:00 CET -> 03:00 CEST; 25 Oct 01:00 UTC, 03:00 CEST
  -> 02:00 CET.
- America/New_York: 8 Mar 07:00 UTC, 02:00 EST -> 03:00 EDT; 1 Nov 06:00 UTC, 02:00 EDT
  -> 01:00 EST.
- Australia/Lord_Howe (30-minute shift): 4 Apr 15:00 UTC, 02:00 +11 -> 01:30 +10:30 (local
  date 5 Apr); 3 Oct 15:30 UTC, 02:00 +10:30 -> 02:30 +11 (local date 4 Oct).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from avisa.cron.schedule import parse_schedule

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires_between(text: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in (start, end], chaining `next_after` as the scheduler does."""
    schedule = parse_schedule(text)
    result: list[datetime] = []
    current = schedule.next_after(start, tz)
    while current <= end:
        result.append(current)
        current = schedule.next_after(current, tz)
    return result


def local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants just before the local midnight starting `day` and ending it."""
    begin = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return begin - timedelta(microseconds=1), end - timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        (MADRID, at(2026, 3, 29, 0, 59), at(2026, 3, 29, 1, 0)),
        (MADRID, at(2026, 10, 25, 0, 59), at(2026, 10, 25, 1, 0)),
        (NEW_YORK, at(2026, 3, 8, 6, 59), at(2026, 3, 8, 7, 0)),
        (NEW_YORK, at(2026, 11, 1, 5, 59), at(2026, 11, 1, 6, 0)),
        (LORD_HOWE, at(2026, 4, 4, 14, 59), at(2026, 4, 4, 15, 0)),
        (LORD_HOWE, at(2026, 10, 3, 15, 29), at(2026, 10, 3, 15, 30)),
    ],
)
def test_the_zone_data_has_the_transitions_these_tests_assume(
    tz: ZoneInfo, before: datetime, after: datetime
) -> None:
    """The installed tz database changes the offset exactly at the instants above."""
    assert before.astimezone(tz).utcoffset() != after.astimezone(tz).utcoffset()


DAILY_CASES = [
    # (zone, DST day, daily job, the one expected fire on that day in UTC, why)
    (MADRID, date(2026, 3, 29), "30 2 * * *", at(2026, 3, 29, 1, 0), "gap: end of gap"),
    (MADRID, date(2026, 3, 29), "0 2 * * *", at(2026, 3, 29, 1, 0), "gap start"),
    (MADRID, date(2026, 3, 29), "59 2 * * *", at(2026, 3, 29, 1, 0), "gap's last minute"),
    (MADRID, date(2026, 3, 29), "0 3 * * *", at(2026, 3, 29, 1, 0), "first valid time"),
    (MADRID, date(2026, 3, 29), "30 1 * * *", at(2026, 3, 29, 0, 30), "before the gap"),
    (MADRID, date(2026, 3, 29), "0 9 * * *", at(2026, 3, 29, 7, 0), "outside, CEST"),
    (MADRID, date(2026, 10, 25), "30 2 * * *", at(2026, 10, 25, 0, 30), "overlap: first"),
    (MADRID, date(2026, 10, 25), "0 2 * * *", at(2026, 10, 25, 0, 0), "overlap start"),
    (MADRID, date(2026, 10, 25), "0 3 * * *", at(2026, 10, 25, 2, 0), "after overlap"),
    (MADRID, date(2026, 10, 25), "0 9 * * *", at(2026, 10, 25, 8, 0), "outside, CET"),
    (NEW_YORK, date(2026, 3, 8), "30 2 * * *", at(2026, 3, 8, 7, 0), "gap: end of gap"),
    (NEW_YORK, date(2026, 3, 8), "0 9 * * *", at(2026, 3, 8, 13, 0), "outside, EDT"),
    (NEW_YORK, date(2026, 11, 1), "30 1 * * *", at(2026, 11, 1, 5, 30), "overlap: first"),
    (NEW_YORK, date(2026, 11, 1), "0 1 * * *", at(2026, 11, 1, 5, 0), "overlap start"),
    (NEW_YORK, date(2026, 11, 1), "0 2 * * *", at(2026, 11, 1, 7, 0), "after overlap"),
    (NEW_YORK, date(2026, 11, 1), "0 9 * * *", at(2026, 11, 1, 14, 0), "outside, EST"),
    (LORD_HOWE, date(2026, 4, 5), "45 1 * * *", at(2026, 4, 4, 14, 45), "overlap: first"),
    (LORD_HOWE, date(2026, 4, 5), "30 1 * * *", at(2026, 4, 4, 14, 30), "overlap start"),
    (LORD_HOWE, date(2026, 4, 5), "0 2 * * *", at(2026, 4, 4, 15, 30), "after overlap"),
    (LORD_HOWE, date(2026, 4, 5), "0 9 * * *", at(2026, 4, 4, 22, 30), "outside, +10:30"),
    (LORD_HOWE, date(2026, 10, 4), "15 2 * * *", at(2026, 10, 3, 15, 30), "gap: end of gap"),
    (LORD_HOWE, date(2026, 10, 4), "0 2 * * *", at(2026, 10, 3, 15, 30), "gap start"),
    (LORD_HOWE, date(2026, 10, 4), "30 2 * * *", at(2026, 10, 3, 15, 30), "first valid"),
    (LORD_HOWE, date(2026, 10, 4), "0 9 * * *", at(2026, 10, 3, 22, 0), "outside, +11"),
    (ZoneInfo("America/Santiago"), date(2026, 9, 6), "@daily", at(2026, 9, 6, 4, 0), "no 00:00"),
]


@pytest.mark.parametrize(
    ("tz", "day", "text", "expected", "why"),
    DAILY_CASES,
    ids=[f"{case[0].key}-{case[1]}-{case[2]}-{case[4]}" for case in DAILY_CASES],
)
def test_a_daily_job_fires_exactly_once_on_each_local_day_around_dst(
    tz: ZoneInfo, day: date, text: str, expected: datetime, why: str
) -> None:
    """Enumerating every fire over the day before, the DST day and the day after gives
    exactly one fire per local day; on the DST day it is at the expected instant (a
    non-existent time fires at the end of the gap, a repeated one at its first
    occurrence; America/Santiago's midnight does not exist on its spring day)."""
    start, _ = local_day_bounds(day - timedelta(days=1), tz)
    _, end = local_day_bounds(day + timedelta(days=1), tz)
    fires = fires_between(text, tz, start, end)
    per_day = Counter(fire.astimezone(tz).date() for fire in fires)
    assert per_day == {day - timedelta(days=1): 1, day: 1, day + timedelta(days=1): 1}, why
    assert [fire for fire in fires if fire.astimezone(tz).date() == day] == [expected], why


def hours_utc(start: datetime, count: int, step_minutes: int = 60) -> list[datetime]:
    return [start + timedelta(minutes=step_minutes * i) for i in range(count)]


@pytest.mark.parametrize(
    ("tz", "day", "expected_local_hours", "expected_utc"),
    [
        pytest.param(
            MADRID,
            date(2026, 3, 29),
            [0, 1, *range(3, 24)],
            hours_utc(at(2026, 3, 28, 23), 23),
            id="madrid-spring-23-hours",
        ),
        pytest.param(
            MADRID,
            date(2026, 10, 25),
            [0, 1, 2, 2, *range(3, 24)],
            hours_utc(at(2026, 10, 24, 22), 25),
            id="madrid-fall-25-hours",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 3, 8),
            [0, 1, *range(3, 24)],
            hours_utc(at(2026, 3, 8, 5), 23),
            id="new-york-spring-23-hours",
        ),
        pytest.param(
            NEW_YORK,
            date(2026, 11, 1),
            [0, 1, 1, *range(2, 24)],
            hours_utc(at(2026, 11, 1, 4), 25),
            id="new-york-fall-25-hours",
        ),
        pytest.param(
            LORD_HOWE,
            date(2026, 10, 4),
            [0, 1, *range(3, 24)],
            [*hours_utc(at(2026, 10, 3, 13, 30), 2), *hours_utc(at(2026, 10, 3, 16), 21)],
            id="lord-howe-spring-no-02:00",
        ),
        pytest.param(
            LORD_HOWE,
            date(2026, 4, 5),
            list(range(24)),
            [*hours_utc(at(2026, 4, 4, 13), 2), *hours_utc(at(2026, 4, 4, 15, 30), 22)],
            id="lord-howe-fall-overlap-holds-no-full-hour",
        ),
    ],
)
def test_an_hourly_job_follows_the_wall_clock_through_dst(
    tz: ZoneInfo, day: date, expected_local_hours: list[int], expected_utc: list[datetime]
) -> None:
    """`0 * * * *` fires at every wall-clock o'clock the day shows: 23 times on a
    spring-forward day, 25 on a fall-back day (the repeated hour is a real hour later);
    on Lord Howe the half-hour shifts leave a 90-minute step, exactly as the wall clock
    does. No instant repeats."""
    start, end = local_day_bounds(day, tz)
    fires = fires_between("0 * * * *", tz, start, end)
    assert fires == expected_utc
    assert [fire.astimezone(tz).hour for fire in fires] == expected_local_hours
    assert fires == sorted(set(fires))


TRANSITIONS = [
    (MADRID, at(2026, 3, 29, 1)),
    (MADRID, at(2026, 10, 25, 1)),
    (NEW_YORK, at(2026, 3, 8, 7)),
    (NEW_YORK, at(2026, 11, 1, 6)),
    (LORD_HOWE, at(2026, 4, 4, 15)),
    (LORD_HOWE, at(2026, 10, 3, 15, 30)),
]
TRANSITION_IDS = [f"{tz.key}-{instant:%m-%d}" for tz, instant in TRANSITIONS]


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS, ids=TRANSITION_IDS)
def test_an_every_minute_job_fires_every_real_minute_through_dst(
    tz: ZoneInfo, transition: datetime
) -> None:
    """`* * * * *` fires once per real minute across the change: no gap, no repeat."""
    start, end = transition - timedelta(hours=2), transition + timedelta(hours=2)
    fires = fires_between("* * * * *", tz, start, end)
    assert fires == hours_utc(start + timedelta(minutes=1), 240, step_minutes=1)


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS, ids=TRANSITION_IDS)
def test_a_half_hourly_job_fires_every_real_half_hour_through_dst(
    tz: ZoneInfo, transition: datetime
) -> None:
    """`*/30 * * * *` keeps a steady 30-minute rhythm in UTC across every change, the
    30-minute Lord Howe shifts included."""
    start, end = transition - timedelta(hours=3), transition + timedelta(hours=3)
    fires = fires_between("*/30 * * * *", tz, start, end)
    assert fires == hours_utc(start + timedelta(minutes=30), 12, step_minutes=30)


@pytest.mark.parametrize(
    ("tz", "text", "day", "expected"),
    [
        pytest.param(
            NEW_YORK,
            "*/30 1 * * *",
            date(2026, 11, 1),
            hours_utc(at(2026, 11, 1, 5), 4, step_minutes=30),
            id="new-york-repeated-hour-runs-twice",
        ),
        pytest.param(
            MADRID,
            "*/30 2 * * *",
            date(2026, 10, 25),
            hours_utc(at(2026, 10, 25, 0), 4, step_minutes=30),
            id="madrid-repeated-hour-runs-twice",
        ),
        pytest.param(
            NEW_YORK, "*/30 2 * * *", date(2026, 3, 8), [], id="new-york-skipped-hour-never-shows"
        ),
        pytest.param(
            LORD_HOWE,
            "*/10 2 * * *",
            date(2026, 4, 5),
            hours_utc(at(2026, 4, 4, 15, 30), 6, step_minutes=10),
            id="lord-howe-02:00-after-the-overlap",
        ),
        pytest.param(
            LORD_HOWE,
            "*/10 2 * * *",
            date(2026, 10, 4),
            hours_utc(at(2026, 10, 3, 15, 30), 3, step_minutes=10),
            id="lord-howe-02:30-after-the-gap",
        ),
    ],
)
def test_wildcard_jobs_in_the_changed_hour_follow_the_wall_clock(
    tz: ZoneInfo, text: str, day: date, expected: list[datetime]
) -> None:
    """Debian cron runs wildcard jobs "based on the new time": a wildcard job whose hour
    is repeated runs in both occurrences (different real instants), one whose hour is
    skipped does not run that day, and on Lord Howe it runs at every wall time the
    clock shows (cronsim alone loses 02:00-02:29 after the fall-back)."""
    start, end = local_day_bounds(day, tz)
    assert fires_between(text, tz, start, end) == expected


@pytest.mark.parametrize(
    ("tz", "text", "after", "expected"),
    [
        pytest.param(
            NEW_YORK,
            "30 1 * * *",
            at(2026, 11, 1, 6, 10),  # 01:10 EST, the second 01:10 of the day
            at(2026, 11, 2, 6, 30),
            id="new-york-daily-not-again-in-the-second-occurrence",
        ),
        pytest.param(
            NEW_YORK,
            "0-59/15 1 * * *",
            at(2026, 11, 1, 6, 20),  # 01:20 EST; 01:30 and 01:45 EDT already fired
            at(2026, 11, 2, 6, 0),
            id="new-york-fixed-minutes-not-again",
        ),
        pytest.param(
            MADRID,
            "30 2 * * *",
            at(2026, 10, 25, 1, 0),  # 02:00 CET, the second 02:00
            at(2026, 10, 26, 1, 30),
            id="madrid-daily-not-again",
        ),
        pytest.param(
            LORD_HOWE,
            "45 1 * * *",
            at(2026, 4, 4, 15, 5),  # 01:35 +10:30, the second 01:35
            at(2026, 4, 5, 15, 15),
            id="lord-howe-daily-not-again",
        ),
        pytest.param(
            MADRID,
            "30 2 * * *",
            at(2026, 3, 29, 0, 59, 59),  # 01:59:59 CET, just before the gap
            at(2026, 3, 29, 1, 0),
            id="madrid-gap-fires-at-its-end",
        ),
    ],
)
def test_next_after_from_inside_a_dst_change_keeps_exactly_once(
    tz: ZoneInfo, text: str, after: datetime, expected: datetime
) -> None:
    """Asked from any instant, not only from the previous fire (a restart, a new job),
    a fixed-time job still fires once per day: from the second occurrence of an overlap
    the next fire is the next day's (cronsim alone offers the first occurrence again,
    which lies in the past)."""
    assert parse_schedule(text).next_after(after, tz) == expected
