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
`N seconds` fires at every instant whose Unix time is a whole multiple of N. pg_cron starts
an interval job N seconds after its previous start, so its ticks depend on when the job
was created or the server restarted; avisa's are fixed instead: the period is exactly N
seconds, the ticks depend on no time zone, DST or process start, and every worker computes
the same ticks (which the scheduler's unique (job, scheduled time) rows rely on). When N
divides 60 the ticks fall on the same seconds of every minute, starting at :00; for other
N (say 7) they drift through the minute rather than bunch up at its end.

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

cronsim computes both kinds; `schedule_eval` corrects the two places where it alone is not
exactly-once. It evaluates fixed-time jobs on naive local times, losing the fold of
`after`: from an instant in the second occurrence of an overlap it offers first
occurrences that lie before `after`, which are skipped. Its wildcard DST handling moves
by wall-clock steps that can jump over part of a half-hour overlap (Australia/Lord_Howe),
so wildcard jobs are evaluated in one fixed UTC offset at a time instead.

Descriptions come from cron-descriptor (English, 24-hour clock); macros are described by
their expansion, `$` as "the last day".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import ExpressionDescriptor, Options

from avisa.clock import utc
from avisa.cron.schedule_eval import next_cron, next_interval
from avisa.cron.schedule_syntax import ScheduleError, parse_text

__all__ = ["Schedule", "ScheduleError", "parse_schedule", "parse_timezone"]


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA zone called `name`.

    Raises ScheduleError("unknown time zone 'X' (use an IANA name like Europe/Madrid)").
    """
    try:
        # ZoneInfo reads names as paths under the tz database: refuse anything path-like
        # or padded rather than let it resolve to something surprising.
        if not name or name != name.strip() or name.startswith("/") or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Madrid)"
        ) from None


def parse_schedule(text: str) -> Schedule:
    """Parse and validate a schedule (the syntax is in this module's docstring).

    Raises ScheduleError naming the bad field and value, e.g.
    "invalid schedule '61 * * * *': minute value 61 is out of range 0-59".
    """
    return Schedule(text)


@dataclass(frozen=True)
class Schedule:
    """A valid schedule. Build it with `parse_schedule`; the constructor validates `text`.

    `text` is the expression as given, stripped and single-spaced; `interval_seconds` is
    set for `N seconds` schedules, None otherwise. Constructing a Schedule raises
    ScheduleError for an invalid `text`, so every instance can be evaluated.
    """

    text: str
    interval_seconds: int | None = None
    # The 5-field expression cronsim evaluates ("" for interval schedules).
    _cron: str = field(default="", init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = " ".join(self.text.split())
        parsed = parse_text(text)
        if self.interval_seconds not in (None, parsed.interval_seconds):
            raise ValueError(f"interval_seconds does not match schedule {text!r}")
        # A frozen dataclass: the normalised and derived fields are set once, here.
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "interval_seconds", parsed.interval_seconds)
        object.__setattr__(self, "_cron", parsed.cron)

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first fire instant strictly after `after`, evaluated in zone `tz`.

        `after` is aware (any offset); the result is aware, in UTC, on a whole second.
        Interval schedules do not depend on `tz`. Raises ValueError for a naive `after`.
        """
        start = utc(after)
        if self.interval_seconds is not None:
            return next_interval(start, self.interval_seconds)
        return next_cron(self._cron, start, tz)

    def describe(self) -> str:
        """The schedule in English words ("Every 10 seconds", "At 02:30", ...)."""
        if self.interval_seconds == 1:
            return "Every second"
        if self.interval_seconds is not None:
            return f"Every {self.interval_seconds} seconds"
        return _describe_cron(self._cron)


@lru_cache(maxsize=256)
def _describe_cron(cron: str) -> str:
    # An explicit locale: cron-descriptor otherwise guesses from the process (and warns).
    options = Options(locale_code="en_US", use_24hour_time_format=True)
    try:
        words = ExpressionDescriptor(cron, options).get_description()
    except Exception:  # a description is a courtesy: it must never break a listing
        return cron
    # cron-descriptor words `L` alone as "the last day" but prints it raw inside a list.
    return re.sub(r"\bL\b", "the last day", words)
