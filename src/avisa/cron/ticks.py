"""Which ticks of a job are due, and what to do with each: pure, time passed in.

After downtime (or a worker that woke late) several ticks may be due at once. pg_cron
drops them silently; a naive scheduler runs them all in a burst. Here the latest due tick
runs if it is within the misfire grace, and every other due tick is recorded as skipped
with its reason, up to a bound, so that history shows the gap without growing by a row
per second of a long outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from avisa.cron.model import MISFIRE_GRACE
from avisa.cron.schedule import Schedule

#: At most this many missed ticks are recorded one by one per planning pass.
MISSED_RECORD_LIMIT = 100
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class TickPlan:
    """The decision for one job at one instant."""

    run: datetime | None
    """The tick to run now, or None."""
    missed: tuple[tuple[datetime, str], ...]
    """Ticks to record as skipped, with the reason for each."""
    next_run_at: datetime
    """The first tick strictly after now: the job's new `next_run_at`."""


def plan_ticks(
    schedule: Schedule,
    tz: ZoneInfo,
    next_run_at: datetime,
    now: datetime,
    grace: timedelta = MISFIRE_GRACE,
    limit: int = MISSED_RECORD_LIMIT,
) -> TickPlan:
    """Decide what to do with the ticks from `next_run_at` (a tick) up to `now` inclusive."""
    if next_run_at > now:
        return TickPlan(run=None, missed=(), next_run_at=next_run_at)
    window_start = now - grace
    missed: list[tuple[datetime, str]] = []
    tick = next_run_at
    # Ticks older than the grace: recorded as skipped, up to the limit; then jump ahead.
    while tick < window_start:
        if len(missed) >= limit:
            missed[-1] = (
                missed[-1][0],
                missed[-1][1] + f"; later ticks until {_iso(window_start)} were missed too",
            )
            tick = schedule.next_after(window_start - _TINY, tz)
            break
        missed.append(
            (
                tick,
                f"missed: no worker ran it within the misfire grace of "
                f"{_duration(grace)} (checked at {_iso(now)})",
            )
        )
        tick = schedule.next_after(tick, tz)
    # Ticks within the grace: the latest runs, the others are superseded by it. Ticks are at
    # least a second apart, so this adds at most one row per second of grace.
    latest: datetime | None = None
    while tick <= now:
        if latest is not None:
            missed.append((latest, "missed: a later tick was already due when it was checked"))
        latest = tick
        tick = schedule.next_after(tick, tz)
    return TickPlan(run=latest, missed=tuple(missed), next_run_at=tick)


def _iso(instant: datetime) -> str:
    return instant.isoformat(timespec="seconds")


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
