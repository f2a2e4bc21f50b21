"""The memory benchmark's baseline process: APScheduler 3 doing an idle worker's job, then
sending what the worker delivers. Run by `bench.memory`, driven over stdin:

    python -m bench.memory_baseline DATABASE_URL JOBS

It schedules JOBS interval jobs (every 1, 2, ... JOBS seconds) and four cron jobs on the
schedules of avisa's default jobs (hourly, every 30 minutes, every minute, daily), each
running `SELECT 1` through SQLAlchemy on DATABASE_URL, all kept in APScheduler's
SQLAlchemyJobStore on that same database, then prints `ready`. On the line
`send URL COUNT` it runs a job that posts COUNT Twilio-shaped messages to the fake Twilio
at URL with one httpx.AsyncClient, 16 in flight (avisa's default delivery concurrency),
using the credentials in BENCH_TWILIO_SID and BENCH_TWILIO_TOKEN, and prints `sent N`.
On `stop` or the end of input it shuts down.

It imports no avisa code: its RSS is the interpreter's, APScheduler's, SQLAlchemy's, the
database driver's and httpx's.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import httpx
import sqlalchemy as sa

# APScheduler 3 ships no type hints.
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # type: ignore[import-untyped]
from apscheduler.schedulers.background import (  # type: ignore[import-untyped]
    BackgroundScheduler,
)

#: avisa's default jobs: reminders hourly, status updater every 30 minutes, alert check
#: every minute, run history purge daily.
DEFAULT_SCHEDULES = (
    {"minute": "0"},
    {"minute": "*/30"},
    {"minute": "*"},
    {"hour": "3", "minute": "17"},
)
IN_FLIGHT = 16

_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def select_one(url: str) -> None:
    """The job every schedule runs: `SELECT 1` on a pooled connection."""
    with _lock:
        engine = _engines.get(url) or _engines.setdefault(url, sa.create_engine(url))
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def send_all(base_url: str, count: int) -> None:
    """Post `count` messages to the fake Twilio at `base_url`, then print `sent N`."""
    sid = os.environ["BENCH_TWILIO_SID"]
    token = os.environ["BENCH_TWILIO_TOKEN"]
    url = f"{base_url}/2010-04-01/Accounts/{sid}/Messages.json"
    queue = list(range(count))
    sent = 0

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while queue:
            i = queue.pop()
            data = {"To": f"+347{i:08d}", "From": "+34911000111", "Body": f"Recordatorio {i}"}
            response = await client.post(url, data=data, auth=(sid, token))
            sent += response.status_code == 201

    async def main() -> None:
        limits = httpx.Limits(max_connections=IN_FLIGHT)
        async with httpx.AsyncClient(limits=limits) as client:
            await asyncio.gather(*(sender(client) for _ in range(IN_FLIGHT)))

    asyncio.run(main())
    print(f"sent {sent}", flush=True)


def main(argv: list[str]) -> int:
    url, jobs = argv[0], int(argv[1])
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url)}, timezone="UTC"
    )
    scheduler.start()
    for i in range(jobs):
        scheduler.add_job(select_one, "interval", seconds=i + 1, args=(url,), id=f"every-{i + 1}s")
    for i, fields in enumerate(DEFAULT_SCHEDULES):
        scheduler.add_job(select_one, "cron", args=(url,), id=f"default-{i}", **fields)
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words[:1] == ["send"]:
            scheduler.add_job(send_all, args=(words[1], int(words[2])), id="send")
        elif words[:1] == ["stop"]:
            break
    scheduler.shutdown(wait=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
