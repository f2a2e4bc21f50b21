"""Rate limits are never exceeded; retries back off exponentially with jitter, bounded."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from avisa.clock import FrozenClock, SystemClock
from avisa.delivery.ratelimit import RateLimiter, RateLimits
from avisa.delivery.retry import RetryPolicy
from tests.delivery.conftest import MakeInstallation, run


def windows_hold(grants: list[float], limit: int, period: float) -> bool:
    """True when no window of `period` seconds holds more than `limit` grants."""
    ordered = sorted(grants)
    return all(ordered[i + limit] - ordered[i] >= period for i in range(len(ordered) - limit))


class RecordingLimiter(RateLimiter):
    """A limiter that remembers when it let each sender go."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.granted: list[float] = []

    def try_acquire(self) -> float:
        wait = super().try_acquire()
        if wait == 0:
            self.granted.append(self.clock.monotonic())
        return wait


def test_limiter_spaces_concurrent_senders() -> None:
    clock = FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))
    limiter = RecordingLimiter(3, 1.0, clock)

    async def senders() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(10)))

    run(senders())
    assert len(limiter.granted) == 10
    assert windows_hold(limiter.granted, 3, 1.0)
    assert limiter.granted[:3] == [0.0, 0.0, 0.0]


def test_limiter_holds_across_threads_with_the_real_clock() -> None:
    """Workers of one process on several threads share one budget."""
    limiter = RecordingLimiter(5, 0.2, SystemClock())

    def sender() -> None:
        asyncio.run(limiter.acquire())

    threads = [threading.Thread(target=sender) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(limiter.granted) == 16
    assert windows_hold(limiter.granted, 5, 0.2)


def test_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="limit"):
        RateLimiter(0, 1.0, SystemClock())


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'avisa.db'}"


def test_worker_sends_within_the_providers_limit(install: MakeInstallation) -> None:
    """Eight reminders due together at 2 per 10 s: all go, no window holds more than two,
    and the worker's clock shows the 30 s the limit costs."""
    avisa = install(rate_limits="console=2/s")
    for i in range(8):
        avisa.book(channels=["sms"], phone=f"+346002000{i:02d}", email=f"r{i}@example.com")
    avisa.advance_to_due()
    limiter = RecordingLimiter(2, 10.0, avisa.clock)
    started = avisa.clock.monotonic()

    async def go() -> int:
        worker = avisa.worker(limits=RateLimits({"console": limiter}))
        try:
            return await worker.run_pending()
        finally:
            await worker.aclose()

    assert run(go()) == 8
    assert len(limiter.granted) == 8
    assert windows_hold(limiter.granted, 2, 10.0)
    assert avisa.clock.monotonic() - started >= 30
    assert {n.status for n in avisa.notifications(kind="reminder_24h")} == {"sent"}


def test_rate_limits_parse_from_the_environment(install: MakeInstallation) -> None:
    avisa = install(rate_limits="twilio=5/s, smtp=100/m,meta=1000/h")
    assert avisa.settings.rate_limits == {
        "twilio": (5, 1.0),
        "smtp": (100, 60.0),
        "meta": (1000, 3600.0),
    }


def test_backoff_doubles_with_equal_jitter_and_is_capped() -> None:
    policy = RetryPolicy(
        max_attempts=5,
        base=timedelta(seconds=30),
        cap=timedelta(minutes=5),
        rng=random.Random(7),  # noqa: S311  (seeded: reproducible jitter)
    )
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (9, 300)):
        for _ in range(50):
            delay = policy.delay(attempt).total_seconds()
            assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(1, retry_after=90).total_seconds() == 90
    assert policy.delay(1, retry_after=10_000).total_seconds() == 300
    assert not policy.exhausted(4)
    assert policy.exhausted(5)
