"""`avisa diagnose`: what is wrong with this installation, and the fix for each problem."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError, SQLAlchemyError

from avisa.checks import Check, fail, ok, warn
from avisa.config import EmailProvider, Settings, SmsProvider, WhatsappProvider
from avisa.db import migrate
from avisa.db.engine import describe_operational_error, ping
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
