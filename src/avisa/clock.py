"""The one source of time for avisa's logic.

Logic never reads the wall clock: it takes a `Clock` (or a `now` argument) so that tests move
time explicitly and DST cases are reproducible. Every instant a clock returns is timezone-aware
and in UTC.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the time and waits for it."""

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for durations."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time (may return early if the clock is moved)."""
        ...


class SystemClock:
    """The real clock, used by the entry points."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FrozenClock:
    """A clock that moves only when told to; for tests and simulations.

    `sleep` advances the clock by the requested amount and returns at once, so code that
    waits for a tick runs instantly and deterministically.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by `delta` (a timedelta or seconds) and return the new now."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to `instant`, which must not be in the clock's past."""
        if instant.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.advance(instant.astimezone(UTC) - self.now())

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


def utc(instant: datetime) -> datetime:
    """Return `instant` in UTC; refuse naive datetimes, whose meaning is a guess."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: an instant must carry its offset")
    return instant.astimezone(UTC)
