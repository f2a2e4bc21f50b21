"""HTTP jobs against a real local server: 2xx only is success; secrets resolved at run time
and found nowhere afterwards (rows, messages, logs)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.cron.commands import http_command
from avisa.cron.jobs import CronJobs
from avisa.cron.model import Run, RunStatus
from avisa.cron.runs import RunStore
from avisa.cron.worker import Scheduler
from avisa.db.tables import metadata
from tests.cron.conftest import CANARY, HttpTarget, run_pass


def only_run(engine: Engine, jobid: int) -> Run:
    (run,) = RunStore(engine).find(jobid=jobid)
    return run


def test_a_2xx_succeeds_with_status_duration_and_excerpt(
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
) -> None:
    job, _ = cron.schedule(
        "ping", "* * * * *", http_command(f"{http_target.url}/ok", body={"hello": "world"})
    )
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.succeeded
    assert run.http_status == 200
    assert run.return_message is not None
    assert run.return_message.startswith("HTTP 200 in ")
    assert run.return_message.endswith(' ms: {"ok":true}')
    (request,) = http_target.received
    assert request["method"] == "POST"
    assert request["body"] == '{"hello":"world"}'
    assert request["headers"]["x-avisa-job"] == "ping"
    assert request["headers"]["x-avisa-run"] == str(run.runid)


@pytest.mark.parametrize("code", [401, 404, 500])
def test_a_non_2xx_fails_and_keeps_the_status(
    code: int,
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
) -> None:
    """pg_cron would call these succeeded; here they fail, visibly."""
    job, _ = cron.schedule("denied", "* * * * *", http_command(f"{http_target.url}/status/{code}"))
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert run.http_status == code
    assert run.return_message is not None
    assert run.return_message.endswith(f"ms: answered {code}")


def test_an_unreachable_server_fails_the_run(
    cron: CronJobs, scheduler: Scheduler, clock: FrozenClock, migrated_engine: Engine
) -> None:
    job, _ = cron.schedule("nobody", "* * * * *", http_command("http://127.0.0.1:9/"))
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert run.http_status is None
    assert (run.return_message or "").startswith("HTTP request failed: ConnectError")


def test_the_request_timeout_fails_the_run(
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
) -> None:
    job, _ = cron.schedule(
        "slow", "* * * * *", http_command(f"{http_target.url}/slow?seconds=1", timeout_ms=200)
    )
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert run.return_message == "HTTP request timed out after 200 ms"


def test_a_missing_secret_fails_the_run_with_its_name(
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
) -> None:
    job, _ = cron.schedule(
        "needs-key",
        "* * * * *",
        http_command(f"{http_target.url}/ok", headers={"X-Key": "{{secret:NOPE}}"}),
    )
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert run.return_message == "secret missing: no secret named 'NOPE'"
    assert http_target.received == []


def _all_rows_text(engine: Engine) -> str:
    chunks: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                chunks.append(repr(tuple(row)))
    return "\n".join(chunks)


@pytest.mark.parametrize("path", ["/echo", "/status/401"])
def test_secrets_are_resolved_for_the_request_and_found_nowhere_after(
    path: str,
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The server gets the canary (in a header and the URL) and echoes it back; the run
    row, its message, every table and every log line are free of it."""
    caplog.set_level(logging.DEBUG)
    command = http_command(
        f"{http_target.url}{path}?key={{{{secret:TOKEN}}}}",
        headers={"Authorization": "Bearer {{secret:TOKEN}}", "X-Plain": "visible"},
    )
    job, _ = cron.schedule("secretive", "* * * * *", command)
    clock.advance(60)
    with structlog.testing.capture_logs() as events:
        run_pass(scheduler)
    (finished,) = [event for event in events if event["event"] == "cron_run_finished"]
    assert finished["job"] == "secretive"
    assert finished["status"] == ("succeeded" if path == "/echo" else "failed")
    (request,) = http_target.received
    assert request["headers"]["authorization"] == f"Bearer {CANARY}"
    assert request["query"] == f"key={CANARY}"
    run = only_run(migrated_engine, job.jobid)
    assert run.return_message is not None
    assert "[redacted]" in run.return_message or path != "/echo"
    captured = capsys.readouterr()
    # The target server's own access log is not avisa's: leave it out.
    ours = [r for r in caplog.records if not r.name.startswith("uvicorn")]
    everything: list[Any] = [
        _all_rows_text(migrated_engine),
        run.return_message,
        "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in ours),
        repr(events),
        captured.out,
        captured.err,
        repr(cron.get("secretive").to_dict()),
    ]
    for text in everything:
        assert CANARY not in text
    assert "{{secret:TOKEN}}" in repr(cron.get("secretive").to_dict())


def test_a_secret_that_cannot_go_in_a_header_fails_the_run_without_showing_it(
    cron: CronJobs,
    scheduler: Scheduler,
    clock: FrozenClock,
    migrated_engine: Engine,
    http_target: HttpTarget,
    secrets: dict[str, str],
) -> None:
    secrets["BROKEN"] = "line one\nline two ñ"
    job, _ = cron.schedule(
        "broken-secret",
        "* * * * *",
        http_command(f"{http_target.url}/ok", headers={"X-Key": "{{secret:BROKEN}}"}),
    )
    clock.advance(60)
    run_pass(scheduler)
    run = only_run(migrated_engine, job.jobid)
    assert run.status is RunStatus.failed
    assert (run.return_message or "").startswith("HTTP request failed: ")
    assert "line one" not in (run.return_message or "")
    assert http_target.received == []
