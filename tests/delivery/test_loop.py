"""The worker's own loop: a due notification goes out within 60 s of its due time, also
when it was created by someone else while the worker slept; stopping is clean."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine

from avisa.clock import SystemClock
from avisa.config import Settings
from avisa.delivery.runtime import DeliveryThread, build_delivery_worker
from avisa.domain.model import NotificationRecord
from avisa.services import build_services
from avisa.setup import initialise
from tests.delivery.conftest import Installation, run


async def _until_sent(avisa: Installation, kind: str) -> NotificationRecord:
    while True:
        rows = await asyncio.to_thread(avisa.notifications, status="sent", kind=kind)
        if rows:
            return rows[0]
        await asyncio.sleep(0.005)


def real_clock(make_settings: Callable[..., Settings], engine: Engine) -> Installation:
    """An installation on the system clock. The loop's timing is what these tests check,
    and a test clock that jumps on every sleep races the loop through its own leases."""
    services = build_services(
        make_settings(delivery_poll_interval="1s"), engine=engine, clock=SystemClock()
    )
    initialise(services)
    return Installation(services, services.clock)  # type: ignore[arg-type]


def test_loop_sends_a_reminder_within_a_minute_of_its_due_time(
    make_settings: Callable[..., Settings], migrated_engine: Engine
) -> None:
    """The worker sleeps until the next due time and sends then (here 2 s ahead)."""
    avisa = real_clock(make_settings, migrated_engine)

    async def go() -> NotificationRecord:
        worker = avisa.worker()
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.to_thread(avisa.book, timedelta(hours=24, seconds=2), channels=["sms"])
            return await asyncio.wait_for(_until_sent(avisa, "reminder_24h"), 30)
        finally:
            stop.set()
            await task

    sent = run(go())
    assert sent.sent_at is not None
    assert timedelta(0) <= sent.sent_at - sent.due_at < timedelta(seconds=60)


def test_late_booking_while_the_worker_sleeps_is_sent_within_a_minute(
    make_settings: Callable[..., Settings], migrated_engine: Engine
) -> None:
    """Created by another writer while the worker sleeps (no wake-up reaches it): the
    bounded poll finds it."""
    avisa = real_clock(make_settings, migrated_engine)

    async def go() -> NotificationRecord:
        worker = avisa.worker()
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        try:
            await asyncio.sleep(0.2)
            # 3 h ahead: the 24 h reminder is late but still says something: due now.
            await asyncio.to_thread(avisa.book, timedelta(hours=3), channels=["email"])
            return await asyncio.wait_for(_until_sent(avisa, "reminder_24h"), 30)
        finally:
            stop.set()
            await task

    sent = run(go())
    assert sent.sent_at is not None
    assert timedelta(0) <= sent.sent_at - sent.due_at < timedelta(seconds=60)


def test_delivery_thread_runs_beside_other_work_and_stops_cleanly(
    make_settings: Callable[..., Settings], migrated_engine: Engine
) -> None:
    """What `avisa serve` and `avisa worker` start: a worker on its own thread and loop."""
    avisa = real_clock(make_settings, migrated_engine)
    thread = DeliveryThread(build_delivery_worker(avisa.services))
    thread.start()
    try:
        avisa.book(timedelta(hours=3), channels=["email"])
        sent = run(asyncio.wait_for(_until_sent(avisa, "reminder_24h"), 30))
    finally:
        thread.stop(timeout=15)
    assert sent.provider == "console"
    assert not thread.is_alive()
