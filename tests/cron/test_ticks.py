"""Misfire planning, table-driven: which due ticks run, which are recorded as skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from avisa.cron.schedule import parse_schedule
from avisa.cron.ticks import plan_ticks

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("schedule", "now", "run", "missed", "next_run_at"),
    [
        # Not due yet.
        ("* * * * *", T - timedelta(seconds=1), None, 0, T),
        # On time and slightly late: the tick runs.
        ("* * * * *", T, T, 0, T + timedelta(minutes=1)),
        ("* * * * *", T + timedelta(seconds=59), T, 0, T + timedelta(minutes=1)),
        # Three ticks due within the grace: the latest runs, two are superseded.
        (
            "* * * * *",
            T + timedelta(minutes=2, seconds=5),
            T + timedelta(minutes=2),
            2,
            T + timedelta(minutes=3),
        ),
        # The only due tick is older than the grace: nothing runs.
        ("0 * * * *", T + timedelta(minutes=6), None, 1, T + timedelta(hours=1)),
        # A day of a `1 seconds` job: bounded rows, the latest tick runs.
        (
            "1 seconds",
            T + timedelta(days=1),
            T + timedelta(days=1),
            100 + 300,
            T + timedelta(days=1, seconds=1),
        ),
    ],
)
def test_plan(
    schedule: str, now: datetime, run: datetime | None, missed: int, next_run_at: datetime
) -> None:
    plan = plan_ticks(parse_schedule(schedule), UTC_ZONE, T, now)
    assert plan.run == run
    assert len(plan.missed) == missed
    assert plan.next_run_at == next_run_at
    assert all(tick < now for tick, _ in plan.missed)
    assert len({tick for tick, _ in plan.missed} | ({run} if run else set())) == missed + bool(run)


def test_reasons_say_why() -> None:
    plan = plan_ticks(parse_schedule("* * * * *"), UTC_ZONE, T, T + timedelta(minutes=10))
    reasons = dict(plan.missed)
    assert reasons[T].startswith("missed: no worker ran it within the misfire grace of 5 min")
    assert reasons[T + timedelta(minutes=9)] == (
        "missed: a later tick was already due when it was checked"
    )
