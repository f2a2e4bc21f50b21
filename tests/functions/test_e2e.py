"""The original flow end to end: `avisa serve` as a real process runs a `2 seconds` job that
calls a function over HTTP with the service key from the vault; the run and the execution
log are recorded; `verify`, `functions invoke`, `cron run` and `logs` see it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import invoke
from tests.support.net import free_port


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {
        "AVISA_DATA_DIR": str(tmp_path / "data"),
        "AVISA_DATABASE_URL": database_url,
        "AVISA_PORT": str(port),
        "AVISA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AVISA_LOG_FORMAT": "json",
    }
    assert invoke("init", env=env).returncode == 0
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")} | env
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "avisa", "serve"], env=full_env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"avisa serve did not start: {(tmp_path / 'serve.log').read_text()}")
        yield env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _json(*args: str, env: dict[str, str]) -> object:
    result = invoke(*args, "--json", env=env)
    return json.loads(result.stdout)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scheduled_function_calls_end_to_end(served: dict[str, str]) -> None:
    url = served["AVISA_PUBLIC_URL"]
    scheduled = invoke(
        "cron",
        "schedule",
        "reminders-every-2s",
        "2 seconds",
        "--http",
        f"{url}/functions/v1/process-reminders",
        "--header",
        "Authorization: Bearer {{secret:SERVICE_ROLE_KEY}}",
        "--body",
        "{}",
        env=served,
    )
    assert scheduled.returncode == 0, scheduled.stderr
    deadline = time.monotonic() + 60
    runs: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        listing = _json("cron", "runs", "reminders-every-2s", env=served)
        assert isinstance(listing, list)
        runs = [r for r in listing if r["status"] == "succeeded"]
        if len(runs) >= 2:
            break
        time.sleep(0.5)
    assert len(runs) >= 2, "the 2-second job did not run twice within a minute"
    assert all(r["http_status"] == 200 for r in runs)
    logs = _json("logs", env=served)
    assert isinstance(logs, list)
    assert any(
        entry["job_name"] == "reminders-every-2s" and entry["status"] == "success" for entry in logs
    )
    manual = invoke("cron", "run", "process-appointment-reminders-hourly", env=served)
    assert manual.returncode == 0, manual.stderr
    manual = invoke("cron", "run", "appointment-status-updater", env=served)
    assert manual.returncode == 0, manual.stderr
    invoked = invoke("functions", "invoke", "appointment-status-updater", env=served)
    assert invoked.stdout.startswith("HTTP 200")
    verified = invoke("verify", env=served)
    assert verified.returncode == 0, verified.stdout
    assert verified.stdout.rstrip().endswith("all checks passed")
