"""One alert check: observe, decide, claim each transition, send what was claimed.

`check_alerts(services)` is what the `check_alerts` cron function runs every minute. Time
comes from `services.clock`. Nothing is sent twice: a transition is sent by the process
whose conditional write landed. An alert that could not be delivered keeps its error on
the subject's row (shown by the dashboard) and is not retried before the next one is due:
a broken mail relay must not turn into a message storm once it comes back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog

from avisa.alerts import store
from avisa.alerts.observe import EXECUTION_PREFIX, JOB_PREFIX, existing_jobs, observe
from avisa.alerts.rules import Alert, decide
from avisa.alerts.senders import (
    SMTP_PASSWORD,
    WEBHOOK_SECRET,
    AlertDeliveryError,
    AlertSender,
    EmailAlerts,
    WebhookAlerts,
)
from avisa.delivery.channels.email import SmtpConfig
from avisa.errors import AvisaError, ConfigError, NotFoundError
from avisa.services import Services

log = structlog.get_logger(__name__)


@dataclass
class CheckReport:
    """What one check saw and did."""

    observed: int = 0
    alerts: list[Alert] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def message(self) -> str:
        sent = ", ".join(a.title for a in self.alerts) or "no alert"
        text = f"checked {self.observed} subjects; {sent}"
        if self.errors:
            text += f"; not delivered: {'; '.join(self.errors)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "observed": self.observed,
            "alerts": [{"subject": a.subject, "kind": a.kind.value} for a in self.alerts],
            "errors": self.errors,
        }


def check_alerts(services: Services, senders: list[AlertSender] | None = None) -> CheckReport:
    """Run one check at `services.clock.now()`; `senders` replaces the configured ones."""
    now = services.clock.now()
    period = services.settings.alert_period
    seen = observe(services, now)
    stored = store.load_states(services.engine)
    jobs = existing_jobs(services)
    gone = [
        subject
        for subject in stored
        if subject.startswith(JOB_PREFIX) and subject.removeprefix(JOB_PREFIX) not in jobs
    ]
    store.forget(services.engine, gone)
    report = CheckReport(observed=len(seen))
    for observation in seen:
        previous = stored.get(observation.subject)
        decision = decide(previous, observation, now, period)
        if decision.values is None:
            continue
        landed = store.apply(services.engine, observation.subject, previous, decision.values, now)
        if landed and decision.alert is not None:
            report.alerts.append(decision.alert)
    if report.alerts:
        chosen, problems = configured_senders(services) if senders is None else (senders, [])
        _deliver(services, report, chosen, problems)
    return report


def _deliver(
    services: Services, report: CheckReport, senders: list[AlertSender], problems: list[str]
) -> None:
    url = f"{services.settings.public_url}/dashboard/health"
    now = services.clock.now()
    for alert in report.alerts:
        log.warning("alert", subject=alert.subject, kind=alert.kind.value, detail=alert.detail)
        errors = problems + asyncio.run(_send_all(senders, alert, url))
        store.record_delivery_error(services.engine, alert.subject, "; ".join(errors) or None, now)
        report.errors.extend(errors)


async def _send_all(senders: list[AlertSender], alert: Alert, url: str) -> list[str]:
    errors: list[str] = []
    for sender in senders:
        try:
            await sender.send(alert, url)
        except AlertDeliveryError as exc:
            log.error("alert_not_delivered", subject=alert.subject, channel=sender.name)
            errors.append(str(exc))
    return errors


def configured_senders(services: Services) -> tuple[list[AlertSender], list[str]]:
    """Email when `AVISA_ALERT_EMAIL` is set, webhook when the vault holds its URL; and
    the configuration problems found (one channel's problem never stops the other)."""
    senders: list[AlertSender] = []
    problems: list[str] = []
    try:
        email = _email_sender(services)
    except ConfigError as exc:
        problems.append(f"email: {exc}")
    else:
        senders.extend([email] if email else [])
    try:
        senders.append(
            WebhookAlerts(services.vault.with_actor("system").get_secret(WEBHOOK_SECRET))
        )
    except NotFoundError:
        pass  # no webhook configured: email only, or the dashboard only
    except AvisaError as exc:
        problems.append(f"webhook: {exc}")
    return senders, problems


def _email_sender(services: Services) -> AlertSender | None:
    """The email sender, None when no alert address is set. Raises ConfigError."""
    settings = services.settings
    vault = services.vault.with_actor("system")
    if settings.alert_email:
        if not settings.smtp_url or not settings.email_from:
            raise ConfigError(
                "AVISA_ALERT_EMAIL is set but AVISA_SMTP_URL or AVISA_EMAIL_FROM is not",
                fix="configure SMTP, or use a webhook (vault secret ALERT_WEBHOOK_URL)",
            )
        try:
            config = SmtpConfig.from_url(settings.smtp_url, settings.email_from)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        recipients = [a.strip() for a in settings.alert_email.split(",") if a.strip()]

        async def password() -> str:
            return await asyncio.to_thread(vault.get_secret, SMTP_PASSWORD)

        return EmailAlerts(config, recipients, password)
    return None


__all__ = ["EXECUTION_PREFIX", "CheckReport", "check_alerts", "configured_senders"]
