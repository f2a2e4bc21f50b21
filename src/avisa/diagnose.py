"""`avisa diagnose`: what is wrong with this installation, and the fix for each problem."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from avisa.checks import Check, fail, ok, warn
from avisa.config import EmailProvider, Settings, SmsProvider, WhatsappProvider
from avisa.cron.commands import HttpCommand, command_from_json
from avisa.db import migrate
from avisa.db.engine import describe_operational_error, ping
from avisa.db.tables.cron import cron_job
from avisa.errors import AvisaError
from avisa.services import Services
from avisa.vault.diagnose import diagnose_vault


def diagnose(services: Services) -> list[Check]:
    """Run every check; a database that cannot be reached stops the checks that need it."""
    checks = [_database(services)]
    if checks[0].failed:
        return checks
    checks.append(_migrations(services))
    checks.extend(diagnose_vault(services.vault.with_actor("system")))
    checks.extend(_providers(services))
    checks.append(_public_url(services))
    checks.extend(_job_secrets(services))
    return checks


def _public_url(services: Services) -> Check:
    """The default jobs call AVISA_PUBLIC_URL: it must reach a running avisa."""
    url = f"{services.settings.public_url}/healthz"
    try:
        answer = httpx.get(url, timeout=3.0)
    except httpx.HTTPError as exc:
        return fail(
            "public URL",
            f"{url} does not answer ({type(exc).__name__})",
            fix="start `avisa serve`, or set AVISA_PUBLIC_URL to where it listens",
        )
    if answer.status_code != 200:
        return fail(
            "public URL",
            f"{url} answered HTTP {answer.status_code}",
            fix="AVISA_PUBLIC_URL must point at avisa itself",
        )
    return ok("public URL", f"{url} answers")


def _job_secrets(services: Services) -> list[Check]:
    """Every `{{secret:NAME}}` an HTTP job uses must exist (a renamed secret breaks a job)."""
    present = {m.name for m in services.vault.list_secrets()}
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(cron_job.c.jobname, cron_job.c.command)).all()
    checks: list[Check] = []
    for row in rows:
        try:
            command = command_from_json(row.command)
        except AvisaError:
            checks.append(fail(f"job {row.jobname}", "its stored command is not valid"))
            continue
        if not isinstance(command, HttpCommand):
            continue
        missing = [n for n in command.secret_names() if n not in present]
        if missing:
            checks.append(
                fail(
                    f"job {row.jobname}",
                    f"uses vault secret {', '.join(missing)}, which does not exist",
                    fix="create or restore the secret, or change the job's command",
                )
            )
    if not checks:
        checks.append(ok("job secrets", f"every secret used by the {len(rows)} jobs exists"))
    return checks


def _database(services: Services) -> Check:
    url = services.settings.database.render_as_string(hide_password=True)
    try:
        ping(services.engine)
    except OperationalError as exc:
        return fail("database", f"{url}: {describe_operational_error(exc)}")
    except SQLAlchemyError as exc:
        return fail("database", f"{url}: {type(exc).__name__}", fix="check AVISA_DATABASE_URL")
    return ok("database", f"{url} reachable")


def _migrations(services: Services) -> Check:
    state = migrate.status(services.engine)
    if state.in_sync:
        return ok("migrations", state.describe())
    return fail("migrations", state.describe(), fix="run `avisa migrate`")


def _secret_present(services: Services, name: str) -> bool:
    try:
        meta = services.vault.describe_secret(name)
    except AvisaError:
        return False
    return meta.deleted_at is None


def _providers(services: Services) -> list[Check]:
    s: Settings = services.settings
    checks: list[Check] = []

    def need_secret(channel: str, name: str) -> None:
        if not _secret_present(services, name):
            checks.append(
                fail(channel, f"vault secret {name} is missing", fix=f"avisa vault create {name}")
            )

    def need_vars(channel: str, **values: str | None) -> bool:
        missing = [f"AVISA_{k.upper()}" for k, v in values.items() if not v]
        if missing:
            checks.append(fail(channel, f"{', '.join(missing)} not set", fix="set it in .env"))
        return not missing

    if s.email_provider == EmailProvider.smtp and need_vars(
        "email", smtp_url=s.smtp_url, email_from=s.email_from
    ):
        need_secret("email", "SMTP_PASSWORD")
    if s.sms_provider == SmsProvider.twilio and need_vars(
        "sms", twilio_account_sid=s.twilio_account_sid, twilio_from=s.twilio_from
    ):
        need_secret("sms", "TWILIO_AUTH_TOKEN")
    if s.whatsapp_provider == WhatsappProvider.twilio:
        if need_vars(
            "whatsapp", twilio_account_sid=s.twilio_account_sid, whatsapp_from=s.whatsapp_from
        ):
            need_secret("whatsapp", "TWILIO_AUTH_TOKEN")
    elif s.whatsapp_provider == WhatsappProvider.meta and need_vars(
        "whatsapp", meta_phone_number_id=s.meta_phone_number_id
    ):
        need_secret("whatsapp", "WHATSAPP_ACCESS_TOKEN")
    for channel, provider in (
        ("email", s.email_provider),
        ("sms", s.sms_provider),
        ("whatsapp", s.whatsapp_provider),
    ):
        if not any(c.name == channel for c in checks):
            if provider == "console":
                checks.append(
                    warn(
                        channel,
                        "console provider: messages are recorded, not sent",
                        fix=f"set AVISA_{channel.upper()}_PROVIDER for real delivery",
                    )
                )
            else:
                checks.append(ok(channel, f"{provider} configured"))
    return checks
