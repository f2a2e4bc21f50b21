"""Fixtures: an installation whose alerts go to a real SMTP server and a real webhook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.cron.commands import sql_command
from avisa.cron.jobs import JobChanges
from avisa.cron.model import Run
from avisa.cron.runtime import build_scheduler, cron_jobs
from avisa.services import Services, build_services
from avisa.setup import initialise
from tests.alerts.receiver import Received, webhook_receiver
from tests.support.smtp import PASSWORD, USERNAME, SmtpRecorder, smtp_server

OPERATOR = "ops@example.com"
BROKEN_SQL = "SELECT * FROM no_such_table"


@dataclass
class Watched:
    """An installation with alerting wired to `smtp` and `hook`."""

    services: Services
    clock: FrozenClock
    smtp: SmtpRecorder
    hook: Received
    hook_url: str

    def run(self, name: str) -> Run:
        """Run job `name` now through the real scheduler."""
        scheduler = build_scheduler(self.services, kind="test")
        return asyncio.run(scheduler.run_now(cron_jobs(self.services).get(name)))

    def set_sql(self, name: str, sql: str) -> None:
        cron_jobs(self.services).alter(name, JobChanges(command=sql_command(sql)))


@pytest.fixture
def watched(make_settings: Any, migrated_engine: Engine, clock: FrozenClock) -> Iterator[Watched]:
    with smtp_server() as (smtp, port), webhook_receiver() as (hook, hook_url):
        settings = make_settings(
            alert_email=OPERATOR,
            alert_period="1h",
            email_provider="smtp",
            smtp_url=f"smtp://{USERNAME}@127.0.0.1:{port}?starttls=0",
            email_from="avisa@example.com",
        )
        services = build_services(settings, engine=migrated_engine, clock=clock)
        initialise(services)
        vault = services.vault.with_actor("cli")
        vault.create_secret(PASSWORD, "SMTP_PASSWORD")
        vault.create_secret(hook_url, "ALERT_WEBHOOK_URL")
        cron_jobs(services).schedule("nightly-export", "0 2 * * *", sql_command(BROKEN_SQL))
        yield Watched(services, clock, smtp, hook, hook_url)
