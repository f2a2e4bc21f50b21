"""An avisa installation of real processes: N `avisa worker` and one `avisa serve
--no-worker`, on one PostgreSQL database, sending SMS through the fake provider.

Each process writes its log (JSON lines) under `<workdir>/logs/`. Processes are started,
stopped with SIGTERM (graceful) or killed with SIGKILL, and restarted, by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from tests.support.net import free_port

from avisa.db.engine import create_engine
from avisa.db.tables import cron_worker
from chaos.provider import ACCOUNT_SID, AUTH_TOKEN

AVISA = str(Path(sys.executable).with_name("avisa"))
SENDER = "+34911000111"
#: The service-role key, resolved from the vault at run time (never stored in the job).
AUTH_HEADER = "Bearer {{secret:SERVICE_ROLE_KEY}}"


@dataclass
class Cluster:
    """The processes of one scenario. `settings` are extra AVISA_ variables."""

    workdir: Path
    database_url: str
    provider_url: str
    settings: dict[str, str] = field(default_factory=dict)
    workers: int = 4
    api_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    starts: dict[str, int] = field(default_factory=dict)
    service_key: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(self.database_url)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def root_key(self) -> Path:
        return self.workdir / "data" / "root.key"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")}
        env.update(
            {
                "AVISA_DATA_DIR": str(self.workdir / "data"),
                "AVISA_DATABASE_URL": self.database_url,
                "AVISA_HOST": "127.0.0.1",
                "AVISA_PORT": str(self.api_port),
                "AVISA_PUBLIC_URL": self.api_url,
                "AVISA_SMS_PROVIDER": "twilio",
                "AVISA_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "AVISA_TWILIO_FROM": SENDER,
                "AVISA_TWILIO_BASE_URL": self.provider_url,
                "AVISA_LOG_FORMAT": "json",
                "AVISA_DELIVERY_POLL_INTERVAL": "1s",
                **self.settings,
            }
        )
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `avisa ARGS` to completion; raises with its stderr when it fails."""
        done = subprocess.run(
            [AVISA, *args],
            env=self.env(),
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            cwd=self.workdir,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"avisa {' '.join(args)}: {done.stderr.decode().strip()}")
        return done.stdout.decode()

    def install(self) -> None:
        """`avisa init`, the provider's token in the vault, and the service key (for the
        admin API calls the scenarios make)."""
        self.cli("init")
        self.cli("vault", "create", "TWILIO_AUTH_TOKEN", stdin=AUTH_TOKEN)
        self.service_key = str(json.loads(self.cli("keys", "--json"))["service_role"])

    def api(self, method: str, path: str, body: dict[str, Any]) -> None:
        """One call to the API process's admin API with the service key."""
        answer = httpx.request(
            method,
            f"{self.api_url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.service_key}"},
            timeout=30,
        )
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status_code}: {answer.text}")

    def schedule_http_job(self, name: str, schedule: str, function: str) -> None:
        """A job that POSTs to the API process's function, as the default jobs do.

        Overlap `allow`: on a loaded machine a run may outlast its one-second period, and
        with `skip` (the default) the next tick would be recorded as skipped by policy;
        the scenarios count executions, so every tick must execute."""
        command = {
            "type": "http",
            "url": f"{self.api_url}/functions/v1/{function}",
            "headers": {"Authorization": AUTH_HEADER},
        }
        job = {"name": name, "schedule": schedule, "command": command, "overlap": "allow"}
        self.api("POST", "/api/v1/cron/jobs", job)

    def deactivate(self, *names: str) -> None:
        for name in names:
            self.api("PATCH", f"/api/v1/cron/jobs/{name}", {"active": False})

    # -- processes ---------------------------------------------------------------------------

    def worker_names(self) -> list[str]:
        return [f"worker-{i}" for i in range(1, self.workers + 1)]

    def start_all(self) -> None:
        self.start("api")
        for name in self.worker_names():
            self.start(name)
        self.wait_api_ready()
        self.wait_workers(len(self.worker_names()))

    def start(self, name: str) -> None:
        args = ["serve", "--no-worker"] if name == "api" else ["worker"]
        self.starts[name] = self.starts.get(name, 0) + 1
        log = self.workdir / "logs" / f"{name}.{self.starts[name]}.log"
        with log.open("ab") as output:
            self.processes[name] = subprocess.Popen(
                [AVISA, *args],
                env=self.env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def kill(self, name: str) -> None:
        """SIGKILL: no grace, no cleanup, as a crash or an OOM kill."""
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def terminate(self, name: str, timeout: float = 30) -> int:
        """SIGTERM and wait: work in flight finishes within the grace. The exit code."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return -9

    def alive(self) -> dict[str, bool]:
        return {name: p.poll() is None for name, p in self.processes.items()}

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.engine.dispose()
        return codes

    def wait_api_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.api_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.processes["api"].poll() is not None:
                raise RuntimeError("the API process exited; see its log")
            time.sleep(0.2)
        raise RuntimeError("the API process did not become ready")

    def wait_workers(self, count: int, timeout: float = 60) -> None:
        """Until `count` of our worker processes have registered a heartbeat."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = {p.pid for n, p in self.processes.items() if n != "api" and p.poll() is None}
            with self.engine.connect() as conn:
                seen = set(conn.execute(sa.select(cron_worker.c.pid)).scalars())
            if len(pids & seen) >= count:
                return
            time.sleep(0.2)
        raise RuntimeError(f"fewer than {count} workers registered; see their logs")

    def log_events(self, event: str) -> int:
        """How many lines of all process logs carry `event`."""
        needle = f'"event": "{event}"'  # as structlog's JSONRenderer writes it
        return sum(
            path.read_text(encoding="utf-8", errors="replace").count(needle)
            for path in (self.workdir / "logs").glob("*.log")
        )
