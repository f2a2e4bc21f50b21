"""The Clock: aware UTC instants, a frozen clock tests can move."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from avisa.clock import FrozenClock, SystemClock, utc


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert clock.monotonic() == 300.0
    asyncio.run(clock.sleep(2.5))
    assert clock.now() == datetime(2026, 1, 1, 0, 5, 2, 500000, tzinfo=UTC)


def test_frozen_clock_refuses_naive_and_backwards() -> None:
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(datetime(2025, 1, 1, tzinfo=UTC))


def test_utc_converts_offsets_and_refuses_naive() -> None:
    madrid_winter = timezone(timedelta(hours=1))
    assert utc(datetime(2026, 1, 1, 10, tzinfo=madrid_winter)) == datetime(
        2026, 1, 1, 9, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
