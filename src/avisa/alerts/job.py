"""The `check-alerts` job: what the built-in `check_alerts` cron function runs, and the
`avisa init` step that schedules it."""

from __future__ import annotations

from typing import Any

from avisa.alerts.check import check_alerts
from avisa.config import load_settings
from avisa.cron.commands import function_command
from avisa.cron.functions import ALERTS_FUNCTION, FunctionArgumentError, FunctionContext
from avisa.cron.runtime import cron_jobs
from avisa.errors import AvisaError
from avisa.services import Services, build_services

ALERTS_JOB_NAME = "check-alerts"
ALERTS_JOB_SCHEDULE = "* * * * *"


class AlertsNotDeliveredError(AvisaError):
    """Alerts were due but a channel refused them; the run fails so the dashboard shows it."""


def run_alert_job(context: FunctionContext, args: dict[str, Any]) -> str:
    """Check alerts on the job's database and clock; returns the run's message.

    A function job is handed only the engine and the clock, so the alert settings (and
    the root key, for the vault) are read as the process read its own: environment and
    `.env`. Raises AlertsNotDeliveredError when an alert could not be delivered.
    """
    if args:
        raise FunctionArgumentError(f"unknown argument(s): {', '.join(sorted(args))}")
    services = build_services(load_settings(), engine=context.engine, clock=context.clock)
    # Not `services.close()`: the engine belongs to the scheduler that called us.
    report = check_alerts(services)
    if report.errors:
        raise AlertsNotDeliveredError(report.message())
    return report.message()


def ensure_alerts_job(services: Services) -> list[str]:
    """`avisa init` step: schedule `check-alerts` every minute unless it exists (an
    operator's changes to it, such as deactivating it, are kept)."""
    jobs = cron_jobs(services)
    if jobs.jobs.get(ALERTS_JOB_NAME) is not None:
        return []
    jobs.schedule(ALERTS_JOB_NAME, ALERTS_JOB_SCHEDULE, function_command(ALERTS_FUNCTION, {}))
    return [f"scheduled the alert check ({ALERTS_JOB_NAME}, every minute)"]
