"""The scheduler on a frozen clock, on SQLite and PostgreSQL: ticks, misfires, overlap,
timeouts, lost workers, manual runs and retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.cron.commands import function_command, sql_command
from avisa.cron.jobs import CronJobs, JobChanges
from avisa.cron.model import Origin, Run, RunStatus
from avisa.cron.runs import RunStore
from avisa.cron.worker import Scheduler
from avisa.db.tables import cron_job_run_details
from tests.cron.conftest import Gate, run_pass

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def runs_of(engine: Engine, jobid: int) -> list[Run]:
    return sorted(RunStore(engine).find(jobid=jobid, limit=10_000), key=lambda r: r.scheduled_for)


def test_a_due_tick_runs_once_and_is_recorded(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    """Nothing runs before the tick; at the tick one run succeeds; another pass adds none."""
    job, created = cron.schedule("count", "* * * * *", sql_command("SELECT 1"))
    assert created
    assert job.next_run_at == T0 + timedelta(minutes=1)
    run_pass(scheduler)
    assert runs_of(migrated_engine, job.jobid) == []
    clock.advance(60.01)
    run_pass(scheduler)
    run_pass(scheduler)
    (run,) = runs_of(migrated_engine, job.jobid)
    assert run.status is RunStatus.succeeded
    assert run.scheduled_for == T0 + timedelta(minutes=1)
    assert run.origin is Origin.schedule
    assert run.return_message == "1 row(s) returned"
    assert run.worker == "w1"
    assert run.start_time is not None
    assert run.end_time is not None
    assert cron.get("count").next_run_at == T0 + timedelta(minutes=2)


def test_two_workers_at_the_same_tick_run_it_once(
    cron: CronJobs, make_scheduler: Any, clock: FrozenClock, migrated_engine: Engine
) -> None:
    """The second worker's insert of the same (job, tick) does nothing."""
    job, _ = cron.schedule("once", "* * * * *", sql_command("SELECT 1"))
    first, second = make_scheduler("a"), make_scheduler("b")
    clock.advance(60)
    run_pass(first)
    run_pass(second)
    (run,) = runs_of(migrated_engine, job.jobid)
    assert run.worker == "a"


def test_sql_runs_as_written_percent_signs_included(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("like", "* * * * *", sql_command("SELECT 'a%b' LIKE 'a%', '100%'"))
    clock.advance(60)
    run_pass(scheduler)
    (run,) = runs_of(migrated_engine, job.jobid)
    assert (run.status, run.return_message) == (RunStatus.succeeded, "1 row(s) returned")


def test_failing_sql_and_function_fail_the_run(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    bad_sql, _ = cron.schedule("bad-sql", "* * * * *", sql_command("SELECT * FROM nowhere"))
    raising, _ = cron.schedule("raising", "* * * * *", function_command("fail"))
    clock.advance(60)
    run_pass(scheduler)
    (sql_run,) = runs_of(migrated_engine, bad_sql.jobid)
    (function_run,) = runs_of(migrated_engine, raising.jobid)
    assert sql_run.status is RunStatus.failed
    assert sql_run.return_message is not None
    assert sql_run.return_message.startswith("sql failed: ")
    assert "nowhere" in sql_run.return_message
    assert function_run.status is RunStatus.failed
    assert function_run.return_message == "RuntimeError: it broke"


def test_misfire_runs_the_latest_tick_once_and_records_the_rest(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    """After an hour of downtime: one run (the latest tick), every older tick skipped."""
    job, _ = cron.schedule("minutely", "* * * * *", sql_command("SELECT 1"))
    clock.advance(timedelta(hours=1, seconds=10))
    run_pass(scheduler)
    runs = runs_of(migrated_engine, job.jobid)
    ran = [run for run in runs if run.status is RunStatus.succeeded]
    skipped = [run for run in runs if run.status is RunStatus.skipped]
    assert [run.scheduled_for for run in ran] == [T0 + timedelta(hours=1)]
    assert len(skipped) == 59
    assert all(run.return_message and run.return_message.startswith("missed") for run in skipped)
    old = [run for run in skipped if run.scheduled_for < clock.now() - timedelta(minutes=5)]
    assert old
    assert all("misfire grace of 5 min" in (run.return_message or "") for run in old)
    assert cron.get("minutely").next_run_at == T0 + timedelta(hours=1, minutes=1)


def test_misfire_beyond_grace_runs_nothing(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    """The only missed tick is 10 minutes old: recorded as skipped, not run late."""
    job, _ = cron.schedule("hourly", "0 * * * *", sql_command("SELECT 1"))
    clock.advance(timedelta(hours=1, minutes=10))
    run_pass(scheduler)
    (run,) = runs_of(migrated_engine, job.jobid)
    assert run.status is RunStatus.skipped
    assert run.scheduled_for == T0 + timedelta(hours=1)


def test_a_long_outage_of_a_seconds_job_is_bounded(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    """A `1 seconds` job down for a day: one run and a bounded number of skipped rows."""
    job, _ = cron.schedule("fast", "1 seconds", sql_command("SELECT 1"))
    clock.advance(timedelta(days=1))
    run_pass(scheduler)
    runs = runs_of(migrated_engine, job.jobid)
    assert sum(run.status is RunStatus.succeeded for run in runs) == 1
    assert len(runs) <= 100 + 300 + 1
    assert "later ticks until" in (runs[99].return_message or "")


def test_overlap_skip_records_the_tick_that_came_during_a_run(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    job, _ = cron.schedule("slow", "* * * * *", function_command("gate"), overlap="skip")

    async def scenario() -> None:
        clock.advance(60)
        first = scheduler.run_pending()
        await asyncio.to_thread(gate.entered.wait, 5)
        clock.advance(60)
        assert scheduler.run_pending() == []
        gate.release.set()
        await asyncio.gather(*first)

    asyncio.run(scenario())
    first_run, second_run = runs_of(migrated_engine, job.jobid)
    assert first_run.status is RunStatus.succeeded
    assert second_run.status is RunStatus.skipped
    assert (
        second_run.return_message == f"skipped: run {first_run.runid} of this job was still running"
    )
    assert gate.calls == 1


def test_overlap_queue_runs_the_tick_after_the_previous_run(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    job, _ = cron.schedule("queued", "* * * * *", function_command("gate"), overlap="queue")

    async def scenario() -> None:
        clock.advance(60)
        first = scheduler.run_pending()
        await asyncio.to_thread(gate.entered.wait, 5)
        clock.advance(60)
        assert scheduler.run_pending() == []  # queued, not started
        queued = runs_of(migrated_engine, job.jobid)[1]
        assert queued.status is RunStatus.starting
        assert queued.worker is None
        gate.release.set()
        await asyncio.gather(*first)
        second = scheduler.run_pending()
        assert len(second) == 1
        await asyncio.gather(*second)

    asyncio.run(scenario())
    first_run, second_run = runs_of(migrated_engine, job.jobid)
    assert first_run.status is second_run.status is RunStatus.succeeded
    assert second_run.start_time is not None
    assert first_run.end_time is not None
    assert second_run.start_time >= first_run.end_time
    assert gate.calls == 2


def test_overlap_allow_runs_in_parallel(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    job, _ = cron.schedule("parallel", "* * * * *", function_command("gate"), overlap="allow")

    async def scenario() -> None:
        clock.advance(60)
        first = scheduler.run_pending()
        await asyncio.to_thread(gate.entered.wait, 5)
        clock.advance(60)
        second = scheduler.run_pending()
        assert len(second) == 1
        await asyncio.sleep(0.2)
        running = [r.status for r in runs_of(migrated_engine, job.jobid)]
        assert running == [RunStatus.running, RunStatus.running]
        gate.release.set()
        await asyncio.gather(*first, *second)

    asyncio.run(scenario())
    assert [r.status for r in runs_of(migrated_engine, job.jobid)] == [RunStatus.succeeded] * 2
    assert gate.calls == 2


def test_a_run_past_its_timeout_fails_as_timed_out(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    job, _ = cron.schedule(
        "stuck", "* * * * *", function_command("gate"), timeout=timedelta(seconds=1)
    )
    clock.advance(60)
    run_pass(scheduler)
    gate.release.set()
    (run,) = runs_of(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert run.return_message == "timed out after 1 s"


def test_a_run_whose_worker_vanished_is_failed_by_another_and_the_job_goes_on(
    cron: CronJobs, make_scheduler: Any, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    """Worker a claims a run and goes silent; b fails it as lost and runs the next tick."""
    job, _ = cron.schedule("fragile", "* * * * *", function_command("gate"))
    lost_after = timedelta(seconds=30)
    a = make_scheduler("a", lost_after=lost_after)
    b = make_scheduler("b", lost_after=lost_after)

    async def scenario() -> None:
        a.beat()
        clock.advance(60)
        tasks = a.run_pending()
        await asyncio.to_thread(gate.entered.wait, 5)
        b.beat()  # a beat 60 s ago: lost
        (lost,) = runs_of(migrated_engine, job.jobid)
        assert lost.status is RunStatus.failed
        assert lost.return_message is not None
        assert lost.return_message.startswith("worker lost")
        gate.release.set()
        await asyncio.gather(*tasks)  # a's late result does not overwrite the verdict
        clock.advance(60)
        gate.release.set()
        await asyncio.gather(*b.run_pending())

    asyncio.run(scenario())
    lost, next_run = runs_of(migrated_engine, job.jobid)
    assert lost.status is RunStatus.failed
    assert next_run.status is RunStatus.succeeded
    assert next_run.worker == "b"


def test_a_live_worker_keeps_its_runs(
    cron: CronJobs, make_scheduler: Any, clock: FrozenClock, migrated_engine: Engine, gate: Gate
) -> None:
    job, _ = cron.schedule("healthy", "* * * * *", function_command("gate"))
    a, b = make_scheduler("a"), make_scheduler("b")

    async def scenario() -> None:
        clock.advance(60)
        a.beat()
        tasks = a.run_pending()
        await asyncio.to_thread(gate.entered.wait, 5)
        b.beat()
        assert runs_of(migrated_engine, job.jobid)[0].status is RunStatus.running
        gate.release.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert runs_of(migrated_engine, job.jobid)[0].status is RunStatus.succeeded


def test_run_now_is_recorded_like_any_run(
    cron: CronJobs, scheduler: Scheduler, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("manual", "0 0 1 1 *", function_command("ok", {"n": 3}))
    run = asyncio.run(scheduler.run_now(job))
    assert run.status is RunStatus.succeeded
    assert run.origin is Origin.manual
    assert run.return_message == "ok 3"
    assert runs_of(migrated_engine, job.jobid) == [run]


def test_a_requested_run_is_picked_up_by_a_worker(
    cron: CronJobs, scheduler: Scheduler, migrated_engine: Engine
) -> None:
    """The API's run endpoint queues a manual run; the next pass of any worker runs it."""
    job, _ = cron.schedule("requested", "0 0 1 1 *", function_command("ok"))
    runid = cron.request_run("requested")
    queued = RunStore(migrated_engine).get(runid)
    assert queued is not None
    assert queued.status is RunStatus.starting
    run_pass(scheduler)
    (run,) = runs_of(migrated_engine, job.jobid)
    assert run.runid == runid
    assert run.status is RunStatus.succeeded


def test_inactive_jobs_do_not_run_and_reactivation_does_not_catch_up(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("paused", "* * * * *", sql_command("SELECT 1"), active=False)
    assert job.next_run_at is None
    clock.advance(600)
    run_pass(scheduler)
    assert runs_of(migrated_engine, job.jobid) == []
    resumed = cron.alter("paused", JobChanges(active=True))
    assert resumed.next_run_at == T0 + timedelta(minutes=11)
    run_pass(scheduler)
    assert runs_of(migrated_engine, job.jobid) == []


def test_history_purge_deletes_old_ended_runs_in_batches(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("noisy", "0 0 1 1 *", sql_command("SELECT 1"))
    old = [
        {
            "jobid": job.jobid,
            "scheduled_for": T0 - timedelta(days=10, seconds=i),
            "origin": "schedule",
            "status": "succeeded",
        }
        for i in range(25)
    ]
    recent = {**old[0], "scheduled_for": T0 - timedelta(days=1)}
    with migrated_engine.begin() as conn:
        conn.execute(sa.insert(cron_job_run_details), [*old, recent])
    purge, _ = cron.schedule(
        "purge", "0 3 * * *", function_command("purge_run_history", {"batch_size": 10})
    )
    run = asyncio.run(scheduler.run_now(purge))
    assert run.return_message == "deleted 25 runs older than 7 days"
    assert [r.scheduled_for for r in runs_of(migrated_engine, job.jobid)] == [
        T0 - timedelta(days=1)
    ]


def test_purge_refuses_bad_arguments(
    cron: CronJobs, scheduler: Scheduler, migrated_engine: Engine
) -> None:
    purge, _ = cron.schedule(
        "purge", "0 3 * * *", function_command("purge_run_history", {"keep_days": 0})
    )
    run = asyncio.run(scheduler.run_now(purge))
    assert run.status is RunStatus.failed
    assert run.return_message == "keep_days must be a whole number from 1 to 36500"
