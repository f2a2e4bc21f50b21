"""The five fault scenarios. Each builds its own database and processes, injects its
fault, waits until the work is done, and counts: expected, done, duplicates, lost.

A scenario never decides "ok" on timing alone: it reads the database (run rows, execution
logs, notification rows) and the provider's log of every request it answered.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench.delivery import recipient
from sqlalchemy.engine import Engine
from tests.support.net import free_port

from avisa.db.tables.cron import cron_job_run_details
from chaos import data
from chaos.cluster import Cluster
from chaos.pgserver import PostgresServer
from chaos.provider import Provider


@dataclass(frozen=True)
class Scale:
    """How big each scenario is: `FULL` for `make chaos`, `SHORT` for CI."""

    ticks: int
    tick_jobs: dict[str, int]
    kill_notifications: int
    kill_every: tuple[float, float]
    #: Per worker: paces delivery so that it lasts long enough to be killed a few times.
    kill_rate: str
    restart_notifications: int
    restart_rate: str
    outage: float
    outage_notifications: int
    outage_backoff: str
    sealed: float
    sealed_notifications: int
    #: Longest wait for a scenario's work to finish before it counts what is left as lost.
    timeout: float


FULL = Scale(
    ticks=500,
    tick_jobs={"chaos-a": 1, "chaos-b": 1, "chaos-c": 1, "chaos-d": 2, "chaos-e": 5},
    kill_notifications=20_000,
    kill_every=(2.0, 6.0),
    kill_rate="twilio=100/s",
    restart_notifications=5_000,
    restart_rate="twilio=25/s",
    outage=30.0,
    outage_notifications=2_000,
    outage_backoff="10s",
    sealed=20.0,
    sealed_notifications=2_000,
    timeout=600.0,
)
SHORT = Scale(
    ticks=100,
    tick_jobs={"chaos-a": 1, "chaos-b": 1, "chaos-c": 1, "chaos-d": 2, "chaos-e": 5},
    kill_notifications=2_000,
    kill_every=(0.5, 1.5),
    kill_rate="twilio=50/s",
    restart_notifications=1_000,
    restart_rate="twilio=25/s",
    outage=4.0,
    outage_notifications=300,
    outage_backoff="2s",
    sealed=5.0,
    sealed_notifications=300,
    timeout=180.0,
)

#: Seconds after a fault begins during which work already under way may still finish
#: (a send that read its credential just before the key was removed, say).
GRACE = 2.0


@dataclass
class Result:
    """One scenario's counts. `ok` when nothing was lost and no check failed."""

    name: str
    expected: int
    done: int
    duplicates: int
    lost: int
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == 0 and not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class Stage:
    """What a scenario runs on: the server, a fresh database, the provider, the cluster."""

    server: PostgresServer
    cluster: Cluster
    provider: Provider
    rng: random.Random

    @property
    def engine(self) -> Engine:
        return self.cluster.engine

    def close(self) -> dict[str, int]:
        codes = self.cluster.stop_all()
        self.provider.stop()
        return codes


def stage(
    server: PostgresServer, workdir: Path, name: str, settings: dict[str, str], seed: int
) -> Stage:
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    url = server.create_database(name.replace("-", "_"))
    provider = Provider(free_port(), workdir / "provider.jsonl", workdir / "logs" / "provider.log")
    provider.start()
    cluster = Cluster(workdir, url, provider.url, settings)
    cluster.install()
    return Stage(server, cluster, provider, random.Random(seed))


def wait_for(condition: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def delivery_counts(result: Result, stage: Stage, count: int) -> None:
    """Fill expected/done/duplicates/lost from the provider's log and the rows."""
    accepted = stage.provider.accepted()
    wanted = {recipient(i) for i in range(count)}
    statuses = data.statuses(stage.engine)
    result.expected += count
    result.done += statuses["sent"]
    result.duplicates += sum(c - 1 for c in accepted.values() if c > 1)
    result.lost += len(wanted - set(accepted))
    if statuses["sent"] != count:
        result.problems.append(f"notifications not sent: {dict(statuses)}")
    strangers = set(accepted) - wanted
    if strangers:
        result.problems.append(f"{len(strangers)} messages to unknown recipients")
    total, most = data.attempts(stage.engine)
    result.facts["notification_statuses"] = dict(statuses)
    result.facts["attempts_total"] = total
    result.facts["attempts_max"] = most


def tick_counts(result: Result, report: data.Ticks, *, failures_allowed: bool) -> None:
    result.expected += report.expected
    result.duplicates += report.duplicates
    result.facts["runs_by_status"] = dict(report.by_status)
    if failures_allowed:
        # A run that failed clearly (recorded, with its reason) ran; a hole did not.
        result.done += report.expected - report.missing - report.stuck
        result.lost += report.missing + report.stuck
    else:
        result.done += report.succeeded
        result.lost += report.expected - report.succeeded
    for label, value in (
        ("ticks with no run", report.missing),
        ("runs left unfinished", report.stuck),
        ("succeeded runs without an execution log", report.unlogged),
    ):
        if value:
            result.problems.append(f"{label}: {value}")


def settle(stage: Stage, timeout: float = 60) -> None:
    """After the jobs were deactivated: wait until no run is starting or running (a run
    claimed just before finishes; the scenario's checks then see every run ended)."""
    runs = cron_job_run_details.c

    def quiet() -> bool:
        with stage.engine.connect() as conn:
            active = conn.execute(
                sa.select(sa.func.count()).where(runs.status.in_(["starting", "running"]))
            ).scalar_one()
        return int(active) == 0

    time.sleep(1)  # a tick claimed ahead of time starts on the dot
    wait_for(quiet, timeout)


def schedule_ticks(stage: Stage, jobs: dict[str, int]) -> None:
    functions = ["process-reminders", "appointment-status-updater"]
    for i, (name, period) in enumerate(jobs.items()):
        stage.cluster.schedule_http_job(name, f"{period} seconds", functions[i % 2])


def exit_codes(result: Result, codes: dict[str, int]) -> None:
    # uvicorn (the API process) ends by re-raising the SIGTERM it handled: a clean stop.
    bad = {name: code for name, code in codes.items() if code not in (0, -15)}
    if bad:
        result.problems.append(f"processes that did not stop cleanly on SIGTERM: {bad}")


# -- scenarios --------------------------------------------------------------------------------


def ticks(server: PostgresServer, workdir: Path, scale: Scale, seed: int) -> Result:
    """`N seconds` jobs calling the API process's functions, run by four workers that are
    restarted one at a time (SIGTERM) meanwhile: every tick runs exactly once."""
    result = Result("ticks", 0, 0, 0, 0)
    st = stage(server, workdir, "ticks", {}, seed)
    try:
        st.cluster.start_all()
        jobs = scale.tick_jobs
        schedule_ticks(st, jobs)
        per_second = sum(1 / period for period in jobs.values())
        end = time.monotonic() + scale.ticks / per_second
        restarts = 0
        while time.monotonic() < end - 4:
            time.sleep(min(end - time.monotonic(), st.rng.uniform(3, 6)))
            victim = st.rng.choice(st.cluster.worker_names())
            code = st.cluster.terminate(victim)
            if code != 0:
                result.problems.append(f"{victim} exited {code} on SIGTERM")
            st.cluster.start(victim)
            restarts += 1
        time.sleep(max(0.0, end - time.monotonic()))
        st.cluster.deactivate(*jobs)
        settle(st)
        report = data.ticks(st.engine, jobs)
        tick_counts(result, report, failures_allowed=False)
        result.facts["graceful_restarts"] = restarts
        result.facts["workers_seen"] = worker_count(st)
    finally:
        exit_codes(result, st.close())
    return result


def kills(server: PostgresServer, workdir: Path, scale: Scale, seed: int) -> Result:
    """Notifications delivered while workers are SIGKILLed at random moments and
    restarted: none lost, at most one duplicate per kill."""
    result = Result("sigkill", 0, 0, 0, 0)
    count = scale.kill_notifications
    settings = {"AVISA_DELIVERY_LEASE": "5s", "AVISA_RATE_LIMITS": scale.kill_rate}
    st = stage(server, workdir, "sigkill", settings, seed)
    try:
        data.populate(st.engine, count)
        st.cluster.start_all()
        killed = 0
        while not data.all_final(st.engine, count):
            time.sleep(st.rng.uniform(*scale.kill_every))
            if data.all_final(st.engine, count):
                break
            victim = st.rng.choice(st.cluster.worker_names())
            st.cluster.kill(victim)
            killed += 1
            time.sleep(0.3)
            st.cluster.start(victim)
        wait_for(lambda: data.all_final(st.engine, count), scale.timeout)
        delivery_counts(result, st, count)
        result.facts["killed"] = killed
        result.facts["reconciled_with_provider"] = st.cluster.log_events("delivery_reconciled")
        if killed == 0:
            result.problems.append("no worker was killed while messages went out")
        if result.duplicates > killed:
            result.problems.append(
                f"{result.duplicates} duplicates for {killed} killed workers (at most one each)"
            )
    finally:
        st.close()
    return result


def postgres_restart(server: PostgresServer, workdir: Path, scale: Scale, seed: int) -> Result:
    """The PostgreSQL server restarts while ticks run and messages go out: every process
    reconnects (same pids), no tick is missing or stuck, no message lost."""
    result = Result("postgres-restart", 0, 0, 0, 0)
    count = scale.restart_notifications
    settings = {"AVISA_RATE_LIMITS": scale.restart_rate, "AVISA_DELIVERY_LEASE": "20s"}
    st = stage(server, workdir, "postgres_restart", settings, seed)
    jobs = {"chaos-a": 1, "chaos-b": 1}
    try:
        data.populate(st.engine, count)
        st.cluster.start_all()
        schedule_ticks(st, jobs)
        pids = st.cluster.pids()
        time.sleep(5)
        began = time.monotonic()
        st.server.restart(down=3.0)
        result.facts["server_down_seconds"] = round(time.monotonic() - began, 2)
        # The harness's own pool holds connections the restart cut.
        st.engine.dispose()
        if not wait_for(lambda: data.all_final(st.engine, count), scale.timeout):
            result.problems.append("delivery did not finish in time")
        time.sleep(3)  # ticks go on after the restart
        st.cluster.deactivate(*jobs)
        settle(st)
        alive = st.cluster.alive()
        if st.cluster.pids() != pids or not all(alive.values()):
            result.problems.append(f"processes died or were replaced: {alive}")
        delivery_counts(result, st, count)
        tick_counts(result, data.ticks(st.engine, jobs), failures_allowed=True)
        result.facts["database_errors_logged"] = {
            event: st.cluster.log_events(event)
            for event in (
                "cron_worker_db_error",
                "delivery_db_error",
                "delivery_record_retry",
                "cron_run_finish_retry",
                "cron_listen_failed",
            )
        }
    finally:
        exit_codes(result, st.close())
    return result


def provider_down(server: PostgresServer, workdir: Path, scale: Scale, seed: int) -> Result:
    """The provider refuses connections, then answers 503, for `outage` seconds each:
    retries back off, nothing is given up, everything goes out once it recovers."""
    result = Result("provider-down", 0, 0, 0, 0)
    count = scale.outage_notifications
    settings = {"AVISA_DELIVERY_BACKOFF": scale.outage_backoff}
    st = stage(server, workdir, "provider_down", settings, seed)
    try:
        # Due before, during and after the outage.
        data.populate(st.engine, count, spread=timedelta(seconds=scale.outage * 3))
        st.cluster.start_all()
        time.sleep(1)
        st.provider.stop()
        time.sleep(scale.outage)
        st.provider.start("503")
        unavailable_from = time.time()
        time.sleep(scale.outage)
        st.provider.stop()
        st.provider.start("ok")
        if not wait_for(lambda: data.all_final(st.engine, count), scale.timeout):
            result.problems.append("delivery did not finish in time")
        delivery_counts(result, st, count)
        receipts = st.provider.receipts()
        answered_503 = [r for r in receipts if r.status == 503]
        base = float(scale.outage_backoff.rstrip("s"))
        result.facts["answered_503"] = len(answered_503)
        result.facts["retries"] = result.facts["attempts_total"] - count
        # A storm is many requests for one message in a short time: every retry of one
        # recipient must wait at least half the base backoff ("equal jitter").
        gaps = request_gaps(receipts)
        result.facts["shortest_retry_gap_s"] = round(min(gaps), 2) if gaps else None
        # The provider logs when it answers, so two tries' gap may look shorter than the
        # wait between them by one answer's latency: allow a fifth of the wait for that.
        if gaps and min(gaps) < base / 2 * 0.8:
            result.problems.append(f"a retry came {min(gaps):.2f} s after the previous try")
        # Given up on none (checked with the statuses above); how close it came:
        result.facts["attempts_allowed"] = 5
        result.facts["503_phase_requests_per_s"] = round(
            len(answered_503) / max(0.001, scale.outage), 1
        )
        result.facts["503_started"] = datetime.fromtimestamp(unavailable_from, UTC).isoformat()
    finally:
        st.close()
    return result


def request_gaps(receipts: list[Any]) -> list[float]:
    by_recipient: dict[str, list[float]] = {}
    for receipt in receipts:
        by_recipient.setdefault(receipt.to, []).append(receipt.t)
    gaps = []
    for times in by_recipient.values():
        times.sort()
        gaps += [b - a for a, b in itertools.pairwise(times)]
    return gaps


def vault_sealed(server: PostgresServer, workdir: Path, scale: Scale, seed: int) -> Result:
    """The root key is removed while ticks run and messages go out: runs fail saying the
    vault is sealed, nothing reaches the provider, all resumes when the key is back."""
    result = Result("vault-sealed", 0, 0, 0, 0)
    count = scale.sealed_notifications
    st = stage(server, workdir, "vault_sealed", {"AVISA_DELIVERY_BACKOFF": "2s"}, seed)
    jobs = {"chaos-a": 1}
    away = st.cluster.root_key.with_name("root.key.removed")
    try:
        data.populate(st.engine, count, spread=timedelta(seconds=scale.sealed * 3))
        st.cluster.start_all()
        schedule_ticks(st, jobs)
        time.sleep(scale.sealed / 2)
        st.cluster.root_key.rename(away)
        sealed_at = time.time()
        time.sleep(scale.sealed)
        away.rename(st.cluster.root_key)
        unsealed_at = time.time()
        if not wait_for(lambda: data.all_final(st.engine, count), scale.timeout):
            result.problems.append("delivery did not finish in time")
        time.sleep(3)
        st.cluster.deactivate(*jobs)
        settle(st)
        delivery_counts(result, st, count)
        report = data.ticks(st.engine, jobs)
        tick_counts(result, report, failures_allowed=True)
        receipts = st.provider.receipts()
        during = [r for r in receipts if sealed_at + GRACE < r.t < unsealed_at]
        result.facts["requests_while_sealed"] = len(during)
        result.facts["unauthorised_requests"] = sum(r.status == 401 for r in receipts)
        if during:
            result.problems.append(f"{len(during)} requests reached the provider while sealed")
        if result.facts["unauthorised_requests"]:
            result.problems.append("requests reached the provider without a valid credential")
        sealed_runs = [
            (status, message)
            for at, status, message in report.runs
            if sealed_at + GRACE < at.timestamp() < unsealed_at
        ]
        clear = [s for s, m in sealed_runs if s == "failed" and "vault is sealed" in m]
        result.facts["runs_while_sealed"] = len(sealed_runs)
        result.facts["runs_failed_sealed"] = len(clear)
        if not sealed_runs or len(clear) != len(sealed_runs):
            result.problems.append(
                f"runs while sealed: {len(sealed_runs)}, failed saying so: {len(clear)}"
            )
        after = [s for at, s, _ in report.runs if at.timestamp() > unsealed_at + GRACE]
        result.facts["runs_after_unseal_succeeded"] = f"{after.count('succeeded')}/{len(after)}"
        if not after or after.count("succeeded") != len(after):
            result.problems.append("runs did not all succeed after the key came back")
        result.facts["deferred_sends_logged"] = st.cluster.log_events("delivery_deferred")
    finally:
        exit_codes(result, st.close())
    return result


def worker_count(stage: Stage) -> int:
    """Distinct worker ids that ran a tick (restarted workers count again)."""
    with stage.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count(sa.distinct(cron_job_run_details.c.worker)))
            ).scalar_one()
        )


Scenario = Callable[[PostgresServer, Path, Scale, int], Result]
SCENARIOS: dict[str, Scenario] = {
    "ticks": ticks,
    "sigkill": kills,
    "postgres-restart": postgres_restart,
    "provider-down": provider_down,
    "vault-sealed": vault_sealed,
}
