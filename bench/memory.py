"""Benchmark: the resident memory of a real `avisa worker` process against an APScheduler 3
process doing the same scheduling and sending, in the same run, on SQLite and PostgreSQL.

    python -m bench.memory                                   # 5 jobs, 3,000 messages
    python -m bench.memory --count 300 --idle 5 --backend sqlite    # a quick look

avisa: `avisa init` on a fresh data dir and database, `--jobs` SQL jobs (`SELECT 1` every
1, 2, ... seconds) beside the default jobs, SMS through Twilio pointed at a local fake
Twilio (rate limit lifted), then `avisa worker` as a subprocess. Its VmRSS is read from
/proc/<pid>/status once it has ticked for `--idle` seconds ("idle"), then `--count` due SMS
reminders are inserted and VmRSS and VmHWM (the peak since start) are read once all are
sent. The baseline (bench.memory_baseline) is an APScheduler 3 BackgroundScheduler with as
many jobs (the same interval jobs, four cron jobs on the default jobs' schedules) running
`SELECT 1` through SQLAlchemy and stored in SQLAlchemyJobStore on the same kind of
database, read after the same idle time and again after posting as many messages to the
same fake Twilio with one httpx.AsyncClient. A bare `python -c "import time;
time.sleep(...)"` is the floor both stand on. Ratios are avisa / APScheduler (lower is
better); DESIGN.md sets no target for memory. The database server's own processes are not
counted on either side.
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import SystemClock
from avisa.cron.commands import sql_command
from avisa.cron.functions import builtin_functions
from avisa.cron.jobs import CronJobs
from avisa.cron.runs import RunStore
from avisa.cron.store import JobStore
from avisa.db.engine import create_engine
from avisa.db.tables import notifications
from avisa.db.tables.cron import cron_job_run_details
from bench.delivery import populate
from bench.memory_procs import (
    Baseline,
    Memory,
    avisa,
    clean_env,
    read_memory,
    start_bare_python,
    start_worker,
    stop,
    watch,
)
from bench.report import Figure, Outcome
from bench.scratch import backends, default_pg_url, scratch_database
from bench.twilio_server import ACCOUNT_SID, AUTH_TOKEN, SENDER, fake_twilio, free_port

#: Seconds between the last message sent and the reading "after delivery".
SETTLE = 2.0
BASELINE = (
    "APScheduler 3 process, same jobs on SQLAlchemyJobStore, same messages via httpx, same run"
)


@dataclass(frozen=True)
class Measured:
    """One process's memory idle and after sending, and what it did meanwhile."""

    idle: Memory
    after: Memory
    sent: int
    #: Job runs recorded while idle (avisa only; the baseline's are not recorded).
    runs: int = 0


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def _count(engine: Engine, query: sa.Select[int]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _schedule(engine: Engine, jobs: int) -> None:
    """`jobs` SQL jobs every 1, 2, ... seconds, as `avisa cron schedule --sql` makes them."""
    cron = CronJobs(JobStore(engine), RunStore(engine), SystemClock(), builtin_functions())
    for i in range(1, jobs + 1):
        cron.schedule(f"bench-every-{i}s", f"{i} seconds", sql_command("SELECT 1"))


def measure_avisa(url: str, jobs: int, idle: float, count: int, base_url: str) -> Measured:
    """An `avisa worker` on the fresh database `url`: idle, then after sending `count`."""
    runs = sa.select(sa.func.count()).select_from(cron_job_run_details)
    sent = sa.select(sa.func.count()).where(notifications.c.status == "sent")
    with tempfile.TemporaryDirectory(prefix="avisa-bench-memory-") as tmp:
        folder = Path(tmp)
        env = clean_env(
            {
                "AVISA_DATA_DIR": str(folder / "data"),
                "AVISA_DATABASE_URL": url,
                # The default HTTP jobs call public_url: a closed loopback port here.
                "AVISA_PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
                "AVISA_SMS_PROVIDER": "twilio",
                "AVISA_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "AVISA_TWILIO_FROM": SENDER,
                "AVISA_TWILIO_BASE_URL": base_url,
                "AVISA_RATE_LIMITS": "twilio=100000/s",
            },
        )
        avisa(["init"], env, folder)
        avisa(["vault", "create", "TWILIO_AUTH_TOKEN", "--value", AUTH_TOKEN], env, folder)
        engine = create_engine(url)
        try:
            _schedule(engine, jobs)
            with open(folder / "worker.log", "w", encoding="utf-8") as log:
                worker = start_worker(env, folder, log)
                try:
                    _wait_for(lambda: _count(engine, runs) > 0, 60, "the worker's first run")
                    idle_memory = watch(worker, idle)
                    ticked = _count(engine, runs)
                    populate(engine, count, datetime.now(UTC))
                    _wait_for(lambda: _count(engine, sent) >= count, 60 + count / 20, "delivery")
                    after = watch(worker, SETTLE)
                finally:
                    stop(worker)
            return Measured(idle_memory, after, _count(engine, sent), ticked)
        finally:
            engine.dispose()


def measure_apscheduler(url: str, jobs: int, idle: float, count: int, base_url: str) -> Measured:
    """The APScheduler 3 baseline on the fresh database `url` (see bench.memory_baseline)."""
    driver_url = sa.make_url(url)
    if driver_url.get_backend_name() == "postgresql":
        driver_url = driver_url.set(drivername="postgresql+psycopg")
    env = clean_env({"BENCH_TWILIO_SID": ACCOUNT_SID, "BENCH_TWILIO_TOKEN": AUTH_TOKEN})
    baseline = Baseline(driver_url.render_as_string(hide_password=False), jobs, env)
    try:
        idle_memory = watch(baseline.process, idle)
        accepted = baseline.send(base_url, count, timeout=60 + count / 20)
        after = watch(baseline.process, SETTLE)
    finally:
        baseline.close()
    return Measured(idle_memory, after, accepted)


def measure_floor() -> Memory:
    """A bare interpreter that only sleeps, read after a second."""
    process = start_bare_python()
    try:
        time.sleep(1)
        return read_memory(process.pid)
    finally:
        stop(process, signal.SIGTERM)


def run(argv: list[str] | None = None) -> Outcome:
    """Measure, print the table and JSON, and return the figures (`--help` for options)."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--jobs", type=int, default=5, help="interval jobs besides the defaults")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds ticking before reading")
    parser.add_argument("--count", type=int, default=3000, help="messages to deliver")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=default_pg_url(), help="where scratch DBs go")
    args = parser.parse_args(argv)

    floor = measure_floor()
    results: list[dict[str, Any]] = []
    with fake_twilio() as base_url:
        for backend in backends(args.backend, args.pg_url):
            sides = (("avisa", measure_avisa), ("apscheduler3", measure_apscheduler))
            for name, measure in sides:
                with scratch_database(backend, args.pg_url) as url:
                    measured = measure(url, args.jobs, args.idle, args.count, base_url)
                results.append({"backend": backend, "process": name, **asdict(measured)})
    document = {
        "benchmark": "worker_memory",
        "jobs": args.jobs,
        "idle_s": args.idle,
        "count": args.count,
        "bare_python": asdict(floor),
        "results": results,
    }
    print_table(document)
    print(json.dumps(document))
    figures = _figures(results, args.count)
    ok = all(r["sent"] == args.count for r in results)
    return Outcome("memory", BASELINE, document, figures, ok)


def _figures(results: list[dict[str, Any]], count: int) -> list[Figure]:
    by = {(r["backend"], r["process"]): r for r in results}
    figures = []
    for backend in dict.fromkeys(r["backend"] for r in results):
        ours, theirs = by[backend, "avisa"], by[backend, "apscheduler3"]
        for label, moment, key in (
            ("RSS MiB, idle", "idle", "rss_mib"),
            (f"RSS MiB, after {count:,} sent", "after", "rss_mib"),
            ("peak RSS MiB (VmHWM)", "after", "hwm_mib"),
        ):
            figures.append(Figure("memory", backend, label, ours[moment][key], theirs[moment][key]))
    return figures


def print_table(document: dict[str, Any]) -> None:
    floor = document["bare_python"]
    print(
        f"\nworker memory (MiB): {document['jobs']} interval jobs + 4 default, idle "
        f"{document['idle_s']:g} s, then {document['count']:,} messages; bare python "
        f"{floor['rss_mib']} MiB"
    )
    header = (
        f"{'backend':<11} {'process':<13} {'idle RSS':>9} {'after RSS':>10} {'peak':>7} "
        f"{'threads':>8} {'sent':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in document["results"]:
        print(
            f"{r['backend']:<11} {r['process']:<13} {r['idle']['rss_mib']:>9.1f} "
            f"{r['after']['rss_mib']:>10.1f} {r['after']['hwm_mib']:>7.1f} "
            f"{r['after']['threads']:>8} {r['sent']:>6}"
        )


def main(argv: list[str] | None = None) -> int:
    return 0 if run(argv).ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
