"""The original system's two jobs, scheduled by `avisa init` when absent.

Each is an HTTP POST to `{AVISA_PUBLIC_URL}/functions/v1/<function>` whose bearer is read
from the vault at run time (`{{secret:SERVICE_ROLE_KEY}}`), exactly as the hand-built
system calls its Edge Functions with pg_net, so rotating the key needs no job change.
"""

from __future__ import annotations

from dataclasses import dataclass

from avisa.cron.commands import http_command
from avisa.cron.runtime import cron_jobs
from avisa.services import Services


@dataclass(frozen=True)
class DefaultJob:
    name: str
    schedule: str
    function: str


DEFAULT_JOBS = (
    DefaultJob("process-appointment-reminders-hourly", "0 * * * *", "process-reminders"),
    DefaultJob("appointment-status-updater", "*/30 * * * *", "appointment-status-updater"),
)
AUTH_HEADER = ("Authorization", "Bearer {{secret:SERVICE_ROLE_KEY}}")


def function_url(public_url: str, function: str) -> str:
    return f"{public_url.rstrip('/')}/functions/v1/{function}"


def ensure_default_jobs(services: Services) -> list[str]:
    """Schedule each default job that does not exist; an existing one is left as it is
    (an operator may have changed its schedule or deactivated it on purpose)."""
    jobs = cron_jobs(services)
    changes: list[str] = []
    for default in DEFAULT_JOBS:
        if jobs.jobs.get(default.name) is not None:
            continue
        command = http_command(
            function_url(services.settings.public_url, default.function),
            method="POST",
            headers=[AUTH_HEADER, ("Content-Type", "application/json")],
            body={},
        )
        jobs.schedule(default.name, default.schedule, command)
        changes.append(f"scheduled {default.name} ({default.schedule})")
    return changes
