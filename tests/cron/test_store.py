"""The run store's contract, on SQLite and PostgreSQL: claims are exclusive under races,
a compare-and-set moves `next_run_at` once, lost runs are failed once, purges batch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.cron.commands import function_command, sql_command
from avisa.cron.jobs import CronJobs
from avisa.cron.model import ClaimedRun, Outcome, RunStatus
from avisa.cron.runs import RunStore
from avisa.cron.schedule import parse_schedule
from avisa.cron.store import JobStore, WorkerStore
from avisa.cron.ticks import plan_ticks

T1 = datetime(2026, 3, 2, 9, 1, tzinfo=UTC)


def race(count: int, action: Callable[[int], list[ClaimedRun]]) -> list[ClaimedRun]:
    """Run `action(i)` on `count` threads released at once; gather what they claimed."""
    barrier = threading.Barrier(count)
    results: list[list[ClaimedRun]] = [[] for _ in range(count)]

    def go(i: int) -> None:
        barrier.wait()
        results[i] = action(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return [claim for found in results for claim in found]


def test_racing_claims_of_one_tick_have_one_winner(
    cron: CronJobs, clock: FrozenClock, migrated_engine: Engine
) -> None:
    jobs = [cron.schedule(f"j{i}", "* * * * *", sql_command("SELECT 1"))[0] for i in range(3)]
    clock.set(T1)
    plan = plan_ticks(parse_schedule("* * * * *"), ZoneInfo("UTC"), T1, T1)
    store = RunStore(migrated_engine)
    claims = race(6, lambda i: store.claim_due([(job, plan) for job in jobs], f"w{i}", T1))
    assert sorted(claim.job.jobname for claim in claims) == ["j0", "j1", "j2"]
    for job in jobs:
        (run,) = store.find(jobid=job.jobid)
        assert run.status is RunStatus.running
        assert run.scheduled_for == T1
        moved = JobStore(migrated_engine).get_by_id(job.jobid)
        assert moved is not None
        assert moved.next_run_at == T1 + timedelta(minutes=1)


def test_a_queued_run_is_claimed_by_one_worker(cron: CronJobs, migrated_engine: Engine) -> None:
    cron.schedule("manual", "@yearly", function_command("ok"))
    runid = cron.request_run("manual")
    store = RunStore(migrated_engine)
    claims = race(6, lambda i: store.claim_queued(f"w{i}", T1))
    assert [claim.runid for claim in claims] == [runid]
    run = store.get(runid)
    assert run is not None
    assert run.status is RunStatus.running
    assert run.worker in {f"w{i}" for i in range(6)}


def test_finish_is_for_the_owner_of_an_unfinished_run_only(
    cron: CronJobs, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("owned", "@yearly", function_command("ok"))
    store = RunStore(migrated_engine)
    runid = store.request_manual(job, T1, worker="a")
    assert not store.finish(runid, "b", Outcome(True, "not yours"), T1)
    assert store.finish(runid, "a", Outcome(False, "boom", 500), T1 + timedelta(seconds=2))
    assert not store.finish(runid, "a", Outcome(True, "twice"), T1 + timedelta(seconds=3))
    run = store.get(runid)
    assert run is not None
    assert (run.status, run.return_message, run.http_status) == (RunStatus.failed, "boom", 500)
    assert run.duration == timedelta(seconds=2)


def test_lost_runs_are_failed_once_and_live_ones_kept(
    cron: CronJobs, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("work", "@yearly", function_command("ok"), overlap="allow")
    store, workers = RunStore(migrated_engine), WorkerStore(migrated_engine)
    workers.heartbeat("alive", "h", 1, T1)
    workers.heartbeat("silent", "h", 2, T1 - timedelta(minutes=5))
    kept = store.request_manual(job, T1, worker="alive")
    lost = store.request_manual(job, T1, worker="silent")
    orphan = store.request_manual(job, T1, worker="never-registered")
    queued = store.request_manual(job, T1, worker=None)
    assert store.fail_lost(T1, T1 - timedelta(seconds=30)) == 2
    assert store.fail_lost(T1, T1 - timedelta(seconds=30)) == 0
    status = {run.runid: run.status for run in store.find(jobid=job.jobid)}
    assert status == {
        kept: RunStatus.running,
        lost: RunStatus.failed,
        orphan: RunStatus.failed,
        queued: RunStatus.starting,
    }
    assert workers.live(T1 - timedelta(seconds=30)) == ["alive"]
    assert workers.forget_stale(T1 - timedelta(minutes=1)) == 1
    assert workers.latest_heartbeat() == T1


def test_job_changes_move_the_marker(cron: CronJobs, migrated_engine: Engine) -> None:
    store = JobStore(migrated_engine)
    before = store.version()
    cron.schedule("marked", "@daily", sql_command("SELECT 1"))
    cron.unschedule("marked")
    assert store.version() == before + 2
