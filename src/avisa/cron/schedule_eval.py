"""Next-fire evaluation for `avisa.cron.schedule`: cronsim, plus the fixes it needs.

Pure functions of their arguments: no clock is read. The DST rules they implement are
stated in `avisa.cron.schedule`'s docstring; this module says how.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cronsim import CronSim

from avisa.cron.schedule_syntax import ScheduleError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Bound on search steps. Fixed-time jobs skip at most the fires of one fall-back overlap
# (a few hours of minutes); wildcard jobs restart once per offset change on the way to the
# next fire. Real schedules need a handful; the bound only guarantees termination.
_MAX_STEPS = 10_000
# How far apart `_offset_change` probes a zone's offset. The closest two offset changes in
# the whole tz database are four days apart (Africa/Freetown, 1939), so a probe cannot
# step over a change and its reversal.
_PROBE = timedelta(days=1)


def next_interval(after: datetime, seconds: int) -> datetime:
    """The first whole multiple of `seconds` of Unix time strictly after `after` (UTC)."""
    # Integer microseconds: float timestamps would misplace ticks far from the epoch.
    elapsed = (after - _EPOCH) // timedelta(microseconds=1)
    whole_seconds = elapsed // 1_000_000
    return _EPOCH + timedelta(seconds=(whole_seconds // seconds + 1) * seconds)


def is_wildcard(cron: str) -> bool:
    """Debian cron's "wildcard job": the minute or the hour field starts with `*`."""
    minute, hour = cron.split(" ")[:2]
    return minute.startswith("*") or hour.startswith("*")


def next_cron(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """The first fire of 5-field `cron` strictly after UTC `after`, in zone `tz`, as UTC."""
    if is_wildcard(cron):
        return _next_wildcard(cron, after, tz)
    return _next_fixed(cron, after, tz)


def _next_fixed(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """Fixed-time jobs: cronsim's naive-local evaluation, minus fires already past.

    cronsim returns each matching wall time once: a repeated time at its first occurrence,
    a skipped time at the end of the gap. It works on naive local times, so from an
    instant in the second occurrence of an overlap, its first candidates are first
    occurrences of later wall times, which lie before `after`: they have already fired
    and are skipped here rather than fired twice.
    """
    candidates = CronSim(cron, after.astimezone(tz))
    for _ in range(_MAX_STEPS):
        candidate = _next_candidate(candidates, cron, after)
        if candidate > after:
            return candidate
    raise _no_fire(cron, after)  # pragma: no cover - see _MAX_STEPS


def _next_wildcard(cron: str, after: datetime, tz: ZoneInfo) -> datetime:
    """Wildcard jobs: the first real instant after `after` whose wall time matches.

    While the zone's offset is constant, wall time and real time move together and cronsim
    evaluating in that fixed offset is exact. When its answer lies past an offset change,
    the search restarts at the change, in the new offset. This avoids cronsim's own DST
    handling for these jobs, whose wall-clock `replace()` steps can jump over part of a
    half-hour overlap (Australia/Lord_Howe: `* 2 * * *` lost 02:00-02:29 after the
    fall-back).
    """
    start, offset = after, _offset(after, tz)
    for _ in range(_MAX_STEPS):
        candidate = _next_candidate(CronSim(cron, start.astimezone(timezone(offset))), cron, after)
        change = _offset_change(start, candidate, tz, offset)
        if change is None:
            return candidate
        # Offset changes and fires are whole seconds: the change instant itself may fire.
        start, offset = change - timedelta(microseconds=1), _offset(change, tz)
    raise _no_fire(cron, after)  # pragma: no cover - see _MAX_STEPS


def _offset(instant: datetime, tz: ZoneInfo) -> timedelta:
    # A ZoneInfo always knows the offset of an aware instant; `or` only satisfies the types.
    return instant.astimezone(tz).utcoffset() or timedelta(0)


def _offset_change(
    start: datetime, end: datetime, tz: ZoneInfo, offset: timedelta
) -> datetime | None:
    """The first instant in (start, end] where `tz`'s offset is no longer `offset`, if any.

    Probes every `_PROBE`, then bisects down to the whole second of the change (zone
    transitions happen on whole seconds).
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
            # (low, high] is at most a second long and holds the change, a whole second.
            return low.replace(microsecond=0) + timedelta(seconds=1)
        low = high
    return None


def _next_candidate(candidates: CronSim, cron: str, after: datetime) -> datetime:
    try:
        return next(candidates).astimezone(UTC)
    except (StopIteration, OverflowError):
        # Schedules that can never fire are refused when parsed; this is the year 9999.
        raise _no_fire(cron, after) from None


def _no_fire(cron: str, after: datetime) -> ScheduleError:
    return ScheduleError(f"schedule {cron!r} has no fire time after {after.isoformat()}")
