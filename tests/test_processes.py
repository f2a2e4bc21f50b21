"""The deployment's process roles as real processes (`.venv/bin/avisa`, one database each):

- `avisa serve --no-worker` answers HTTP and does no background work: no scheduler worker
  registered, no run made, no notification sent;
- `avisa worker` heartbeats, runs an `N seconds` job, sends a due reminder, and listens on
  no port at all;
- on PostgreSQL, two workers and an API process share a `1 seconds` job: every tick runs
  once, with no gap, and only workers run it;
- SIGTERM stops each within its shutdown grace, with exit 0, unregistered.

The scheduler and delivery themselves are tested in-process elsewhere (and exactly-once
over hundreds of ticks in tests/cron/test_processes.py); these check the wiring of roles.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.config import Settings, load_settings
from avisa.cron.worker import WorkerSettings
from avisa.db.engine import create_engine
from avisa.db.tables import notifications
from avisa.db.tables.cron import cron_job, cron_job_run_details, cron_worker
from avisa.db.tables.delivery import delivery_outbox
from avisa.delivery.worker import DeliverySettings
from avisa.domain.appointments import create_appointment
from avisa.domain.schemas import AppointmentCreate
from tests.support.cli import invoke
from tests.support.databases import postgres_database
from tests.support.net import free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

AVISA = Path(sys.executable).with_name("avisa")
#: A process given SIGTERM ends within its shutdown grace; the rest is room for a busy box.
STOP_BOUND = max(WorkerSettings().shutdown_grace, DeliverySettings().shutdown_grace) + 5
START_BOUND = 30.0


def listening_sockets(pid: int) -> list[str]:
    """The local addresses (hex, as /proc writes them) on which `pid` listens over TCP."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target.removeprefix("socket:[").removesuffix("]"))
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.append(fields[1])
    return found


@dataclass
class Cluster:
    """Processes of one installation: a data dir, a database, `avisa init` done."""

    tmp_path: Path
    database_url: str
    engine: Engine
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        return load_settings(
            _env_file=None,
            data_dir=Path(self.env["AVISA_DATA_DIR"]),
            database_url=self.database_url,
        )

    def spawn(self, name: str, *args: str, port: int | None = None) -> subprocess.Popen[bytes]:
        """Start `avisa ARGS`, its output in `<name>.log`."""
        env = dict(self.env)
        if port is not None:
            env.update(AVISA_PORT=str(port), AVISA_PUBLIC_URL=f"http://127.0.0.1:{port}")
        with (self.tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [str(AVISA), *args], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def serve(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
        """Start `avisa serve ARGS` on a free port; return it and its URL once it answers."""
        process, url = self.spawn_serve(name, *args)
        self.wait_until_serving(name, process, url)
        return process, url

    def spawn_serve(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        return self.spawn(name, "serve", *args, port=port), f"http://127.0.0.1:{port}"

    def wait_until_serving(self, name: str, process: subprocess.Popen[bytes], url: str) -> None:
        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}: {self.log(name)}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, START_BOUND, f"{name} to answer HTTP")

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        """Start `avisa worker` (1 s heartbeat); return it once its heartbeat row exists."""
        process = self.spawn_worker(name)
        self.wait_until_registered(name, process)
        return process

    def spawn_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.spawn(name, "worker", "--heartbeat", "1s", "--lost-after", "3s")

    def wait_until_registered(self, name: str, process: subprocess.Popen[bytes]) -> None:
        def registered() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{name} exited {process.returncode}: {self.log(name)}")
            return any(row.pid == process.pid for row in self.workers())

        wait_for(registered, START_BOUND, f"{name}'s heartbeat")

    def stop(self, process: subprocess.Popen[bytes]) -> int:
        """SIGTERM, then the exit code; fails if it takes longer than the grace allows."""
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_BOUND)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise AssertionError(f"pid {process.pid} ignored SIGTERM for {STOP_BOUND} s") from None

    def workers(self) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(cron_worker)))

    def runs(self, job: str | None = None) -> list[sa.Row[Any]]:
        """Runs of `job` (of every job when None: `avisa init`'s own jobs run too, the
        minutely alert check among them), oldest tick first."""
        query = sa.select(cron_job_run_details).order_by(cron_job_run_details.c.scheduled_for)
        if job is not None:
            query = query.join(cron_job, cron_job.c.jobid == cron_job_run_details.c.jobid).where(
                cron_job.c.jobname == job
            )
        with self.engine.connect() as conn:
            return list(conn.execute(query))

    def notification_statuses(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(notifications.c.status)).scalars())

    def outbox_size(self) -> int:
        with self.engine.connect() as conn:
            count: int = conn.execute(
                sa.select(sa.func.count()).select_from(delivery_outbox)
            ).scalar_one()
            return count

    def make_due(self) -> None:
        """Move every pending reminder's due time to now, so a delivery worker sends it."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(notifications)
                .where(notifications.c.status == "pending")
                .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
            )


def _cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")}
    env.update(
        AVISA_DATA_DIR=str(tmp_path / "data"),
        AVISA_DATABASE_URL=database_url,
        AVISA_HOST="127.0.0.1",
        AVISA_LOG_FORMAT="json",
        AVISA_DELIVERY_POLL_INTERVAL="1s",
    )
    avisa_env = {k: v for k, v in env.items() if k.startswith("AVISA_")}
    initialised = invoke("init", env=avisa_env)
    assert initialised.returncode == 0, initialised.stderr
    engine = create_engine(database_url)
    cluster = Cluster(tmp_path, database_url, engine, env)
    try:
        yield cluster
    finally:
        for process in cluster.processes:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    """An initialised installation on each backend, for real processes."""
    yield from _cluster(tmp_path, database_url)


@pytest.fixture
def sqlite_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """An initialised installation on SQLite only."""
    yield from _cluster(tmp_path, f"sqlite:///{tmp_path / 'data' / 'avisa.db'}")


@pytest.fixture
def pg_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """An initialised installation on PostgreSQL (skips, or fails when required, without)."""
    with postgres_database() as url:
        yield from _cluster(tmp_path, url)


def cli(cluster: Cluster, *args: str) -> str:
    result = invoke(*args, env={k: v for k, v in cluster.env.items() if k.startswith("AVISA_")})
    assert result.returncode == 0, result.stderr
    return result.stdout


def booking(starts_at: datetime) -> dict[str, Any]:
    return {
        "client": {
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "+34600123456",
            "timezone": "Europe/Madrid",
            "locale": "es",
        },
        "service": "Corte de pelo",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(minutes=45)).isoformat(),
    }


def test_serve_no_worker_answers_http_and_does_no_background_work(cluster: Cluster) -> None:
    """An API process serves requests (readiness, an authenticated booking) while a
    `1 seconds` job and due reminders wait: no worker row, no run, nothing sent."""
    cli(cluster, "cron", "schedule", "tick", "1 seconds", "--sql", "SELECT 1")
    api, url = cluster.serve("api", "--no-worker")
    assert listening_sockets(api.pid), "the API process listens (the check's control)"
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    key = cli(cluster, "keys", "--json")
    service_role = json.loads(key)["service_role"]
    booked = httpx.post(
        f"{url}/api/v1/appointments",
        json=booking(datetime.now(UTC) + timedelta(days=3)),
        headers={"Authorization": f"Bearer {service_role}"},
        timeout=10,
    )
    assert booked.status_code == 201, booked.text
    cluster.make_due()
    assert cluster.notification_statuses(), "the booking planned reminders"
    # Long enough for three ticks of the job and a delivery poll, had anything run them.
    time.sleep(3.5)
    assert api.poll() is None
    assert cluster.workers() == []
    assert cluster.runs() == []
    assert set(cluster.notification_statuses()) == {"pending"}
    assert cluster.outbox_size() == 0
    cluster.stop(api)


def test_worker_beats_runs_jobs_sends_and_listens_on_no_port(cluster: Cluster) -> None:
    """A worker registers its heartbeat, runs a `1 seconds` job tick after tick, sends the
    due reminders (console provider: the outbox), opens no listening socket, and on SIGTERM
    exits 0 and unregisters."""
    settings = cluster.settings
    start = datetime.now(UTC) + timedelta(days=3)
    data = AppointmentCreate.model_validate(booking(start))
    with cluster.engine.begin() as conn:
        create_appointment(conn, data, settings, datetime.now(UTC))
    cluster.make_due()
    planned = len(cluster.notification_statuses())
    assert planned > 0

    worker = cluster.worker("worker")
    [row] = cluster.workers()
    assert row.worker_id.split(":")[2] == "worker"
    # Scheduled once the worker runs: the job's change wakes it (no tick missed meanwhile).
    cli(cluster, "cron", "schedule", "tick", "1 seconds", "--sql", "SELECT 1")
    wait_for(
        lambda: len([r for r in cluster.runs("tick") if r.status == "succeeded"]) >= 3,
        20,
        "three successful runs",
    )
    wait_for(
        lambda: set(cluster.notification_statuses()) == {"sent"}, 20, "the reminders to be sent"
    )
    assert cluster.outbox_size() == planned
    assert listening_sockets(worker.pid) == []
    runs = cluster.runs("tick")
    # A tick that came while the previous run still ran is skipped (overlap `skip`, the
    # default) and has no worker; on a loaded machine that happens.
    ran = {(r.status, r.worker) for r in runs if r.status != "skipped"}
    assert ran == {("succeeded", row.worker_id)}
    assert all(r.worker is None for r in runs if r.status == "skipped")

    assert cluster.stop(worker) == 0
    assert cluster.workers() == [], "a stopped worker unregisters"
    assert "Traceback" not in cluster.log("worker")


@pytest.mark.postgres_only
def test_two_workers_and_an_api_process_share_ticks_on_postgresql(pg_cluster: Cluster) -> None:
    """Two workers and one `serve --no-worker` on PostgreSQL: a `1 seconds` job scheduled
    while they run executes every tick once (one run per tick, one side effect per run, no
    gap between ticks), only workers run it, and SIGTERM stops all three cleanly."""
    cluster = pg_cluster
    with cluster.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE tick_log (n integer NOT NULL)"))
    # Started together: their imports overlap, which keeps the test short.
    workers = [cluster.spawn_worker("w1"), cluster.spawn_worker("w2")]
    api, url = cluster.spawn_serve("api", "--no-worker")
    cluster.wait_until_registered("w1", workers[0])
    cluster.wait_until_registered("w2", workers[1])
    cluster.wait_until_serving("api", api, url)
    worker_ids = {row.worker_id for row in cluster.workers()}
    assert len(worker_ids) == 2

    cli(
        cluster, "cron", "schedule", "tick", "1 seconds", "--sql", "INSERT INTO tick_log VALUES (1)"
    )
    time.sleep(4)
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    cli(cluster, "cron", "alter", "tick", "--inactive")
    wait_for(
        lambda: all(r.status not in ("starting", "running") for r in cluster.runs("tick")),
        15,
        "runs in flight to end",
    )
    assert all(process.poll() is None for process in [*workers, api]), "a process died"

    runs = cluster.runs("tick")
    assert len(runs) >= 3
    assert [(r.status, r.return_message) for r in runs if r.status != "succeeded"] == []
    ticks = [r.scheduled_for for r in runs]
    assert len(set(ticks)) == len(ticks), "one run per tick"
    assert {b - a for a, b in itertools.pairwise(ticks)} == {timedelta(seconds=1)}, "no gap"
    with cluster.engine.connect() as conn:
        executed = conn.execute(sa.text("SELECT count(*) FROM tick_log")).scalar_one()
    assert executed == len(runs), "each run executed its command once"
    assert {r.worker for r in runs} <= worker_ids, "only workers run jobs"

    assert [cluster.stop(process) for process in workers] == [0, 0]
    assert cluster.workers() == []
    assert cluster.stop(api) is not None


@pytest.mark.parametrize("args", [(), ("--no-worker",)], ids=["serve", "serve-no-worker"])
def test_sigterm_stops_serve_with_exit_0_and_unregisters(
    sqlite_cluster: Cluster, args: tuple[str, ...]
) -> None:
    """`avisa serve` (embedded scheduler or not) ends on SIGTERM with exit 0 within the
    grace, and the embedded scheduler's worker row is gone."""
    process, _url = sqlite_cluster.serve("serve", *args)
    if not args:
        wait_for(sqlite_cluster.workers, START_BOUND, "the embedded scheduler's heartbeat")
    code = sqlite_cluster.stop(process)
    assert (code, sqlite_cluster.workers()) == (0, [])
