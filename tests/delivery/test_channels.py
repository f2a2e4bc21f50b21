"""Each real channel against a server that checks what the provider checks: SMTP with
AUTH (aiosmtpd), WhatsApp through Twilio and through Meta; the console default; and no
credential ever in a row, a file, an error or a log line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from avisa.db.tables import cron_execution_logs, delivery_outbox, notifications, vault_audit
from avisa.db.tables.delivery import NOT_SENT
from avisa.delivery.channels.twilio_sms import TwilioConfig, TwilioMessages
from tests.delivery.conftest import Installation, MakeInstallation
from tests.support.fake_meta import ACCESS_TOKEN, PHONE_NUMBER_ID, FakeMeta
from tests.support.fake_twilio import AUTH_TOKEN, FakeTwilio
from tests.support.smtp import PASSWORD, USERNAME, SmtpRecorder

WA = "+34600555777"
TEMPLATE_ES, TEMPLATE_EN = "HX" + "1" * 32, "HX" + "2" * 32


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Channel behaviour does not depend on the database: SQLite only, to keep it quick."""
    return f"sqlite:///{tmp_path / 'data' / 'avisa.db'}"


def smtp_install(install: MakeInstallation, port: int, **extra: Any) -> Installation:
    avisa = install(
        email_provider="smtp",
        smtp_url=f"smtp://{USERNAME}@127.0.0.1:{port}?starttls=0",
        email_from="Clínica Avisa <citas@example.com>",
        **extra,
    )
    avisa.services.vault.create_secret(PASSWORD, "SMTP_PASSWORD")
    return avisa


def _parts(message: EmailMessage) -> dict[str, Any]:
    return {part.get_content_type(): part for part in message.walk()}


def test_smtp_sends_multipart_with_ics_and_deterministic_message_id(
    install: MakeInstallation, smtp: tuple[SmtpRecorder, int]
) -> None:
    server, port = smtp
    avisa = smtp_install(install, port)
    appointment = avisa.book(channels=["email"], location="Calle Mayor 1, Madrid")
    avisa.advance_to_due()
    avisa.deliver()
    [message] = server.messages
    [row] = avisa.notifications(status="sent")
    assert message["Message-ID"] == f"<notification-{row.id}.avisa@example.com>"
    assert row.provider_message_id == f"notification-{row.id}.avisa@example.com"
    assert message["To"] == "ana@example.com"
    assert message["Subject"].startswith("Recordatorio de tu cita: Corte de pelo")
    parts = _parts(message)
    assert set(parts) >= {"multipart/mixed", "multipart/alternative", "text/plain", "text/html"}
    assert "hora de Madrid" in parts["text/plain"].get_content()
    assert "<strong>Corte de pelo</strong>" in parts["text/html"].get_content()
    ics = parts["text/calendar"]
    assert ics.get_filename() == "appointment.ics"
    calendar = ics.get_content()
    calendar = calendar if isinstance(calendar, str) else calendar.decode()
    start = appointment.starts_at.strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}" in calendar
    assert f"UID:appointment-{appointment.id}@avisa" in calendar
    assert "LOCATION:Calle Mayor 1\\, Madrid" in calendar
    assert server.auth_failures == 0


def test_smtp_4xx_is_retried_and_5xx_fails(
    install: MakeInstallation, smtp: tuple[SmtpRecorder, int]
) -> None:
    server, port = smtp
    avisa = smtp_install(install, port)
    server.script["busy@example.com"] = ["451 4.3.0 Mailbox busy, try again later"]
    server.script["gone@example.com"] = ["550 5.1.1 No such user"]
    avisa.book(channels=["email"], email="busy@example.com", phone=None)
    avisa.book(channels=["email"], email="gone@example.com", phone=None)
    avisa.advance_to_due()
    avisa.deliver()
    busy, gone = avisa.notifications(kind="reminder_24h")
    assert (busy.status, gone.status) == ("pending", "failed")
    assert busy.last_error is not None
    assert busy.last_error.startswith("451")
    assert gone.last_error is not None
    assert gone.last_error.startswith("550")
    assert busy.next_attempt_at is not None
    avisa.clock.set(busy.next_attempt_at)
    avisa.deliver()
    assert [m["To"] for m in server.messages] == ["busy@example.com"]


def test_smtp_wrong_password_fails_without_leaking_it(
    install: MakeInstallation, smtp: tuple[SmtpRecorder, int]
) -> None:
    server, port = smtp
    avisa = install(
        email_provider="smtp",
        smtp_url=f"smtp://{USERNAME}@127.0.0.1:{port}?starttls=0",
        email_from="citas@example.com",
    )
    avisa.services.vault.create_secret("not-the-password-4242", "SMTP_PASSWORD")
    avisa.book(channels=["email"])
    avisa.advance_to_due()
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert row.status == "failed"
    assert row.last_error is not None
    assert row.last_error.startswith("535")
    assert "not-the-password-4242" not in row.last_error
    assert server.auth_failures >= 1


def test_missing_credential_is_transient_and_names_the_secret(
    install: MakeInstallation, smtp: tuple[SmtpRecorder, int]
) -> None:
    _server, port = smtp
    avisa = install(
        email_provider="smtp",
        smtp_url=f"smtp://{USERNAME}@127.0.0.1:{port}?starttls=0",
        email_from="citas@example.com",
    )
    avisa.book(channels=["email"])
    avisa.advance_to_due()
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert row.status == "pending"
    assert row.last_error is not None
    assert "SMTP_PASSWORD" in row.last_error


def twilio_whatsapp(install: MakeInstallation, twilio: tuple[FakeTwilio, str]) -> Installation:
    fake, url = twilio
    avisa = install(
        whatsapp_provider="twilio",
        twilio_account_sid=fake.account_sid,
        twilio_base_url=url,
        whatsapp_from="+34911000222",
        whatsapp_templates={"*": {"es": TEMPLATE_ES, "en": TEMPLATE_EN}},
    )
    avisa.services.vault.create_secret(AUTH_TOKEN, "TWILIO_AUTH_TOKEN")
    return avisa


def test_twilio_whatsapp_sends_an_approved_template_never_a_body(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = twilio_whatsapp(install, fake_twilio)
    avisa.book(channels=["whatsapp"], whatsapp=WA, locale="en", timezone="Europe/London")
    avisa.advance_to_due()
    avisa.deliver()
    assert fake.rejected == []
    [message] = fake.messages
    assert message["To"] == f"whatsapp:{WA}"
    assert message["From"] == "whatsapp:+34911000222"
    assert message["ContentSid"] == TEMPLATE_EN
    assert "Body" not in message
    assert '"2": "Corte de pelo"' in message["ContentVariables"]
    assert "London Time" in message["ContentVariables"]
    assert avisa.notifications(status="sent")[0].provider_message_id == message["sid"]


def test_twilio_whatsapp_outside_the_window_is_permanent(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """63016 (free text outside the 24 h window, or a template refused for it) fails at
    once; a kind/locale without a configured template fails at once too, saying so."""
    fake, _ = fake_twilio
    avisa = twilio_whatsapp(install, fake_twilio)
    fake.script[WA] = [63016]
    avisa.book(channels=["whatsapp"], whatsapp=WA)
    avisa.advance_to_due()
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None
    assert row.last_error.startswith("63016")


def test_whatsapp_without_a_template_for_the_locale_fails_clearly(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, url = fake_twilio
    avisa = install(
        whatsapp_provider="twilio",
        twilio_account_sid=fake.account_sid,
        twilio_base_url=url,
        whatsapp_from="+34911000222",
        whatsapp_templates={"reminder_1h": {"es": TEMPLATE_ES}},
    )
    avisa.services.vault.create_secret(AUTH_TOKEN, "TWILIO_AUTH_TOKEN")
    avisa.book(channels=["whatsapp"], whatsapp=WA)
    avisa.advance_to_due()
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert row.status == "failed"
    assert row.last_error is not None
    assert "no WhatsApp template for reminder_24h" in row.last_error
    assert fake.messages == []


def meta_install(install: MakeInstallation, meta: tuple[FakeMeta, str]) -> Installation:
    _fake, url = meta
    avisa = install(
        whatsapp_provider="meta",
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_base_url=url,
        whatsapp_templates={"*": {"es": "appointment_reminder", "en": "appointment_reminder"}},
    )
    avisa.services.vault.create_secret(ACCESS_TOKEN, "WHATSAPP_ACCESS_TOKEN")
    return avisa


def test_meta_sends_a_template_with_name_language_and_parameters(
    install: MakeInstallation, fake_meta: tuple[FakeMeta, str]
) -> None:
    fake, _ = fake_meta
    avisa = meta_install(install, fake_meta)
    avisa.book(channels=["whatsapp"], whatsapp=WA)
    avisa.advance_to_due()
    avisa.deliver()
    assert fake.rejected == []
    [message] = fake.messages
    assert message["to"] == WA.removeprefix("+")
    template = message["template"]
    assert (template["name"], template["language"]["code"]) == ("appointment_reminder", "es")
    texts = [p["text"] for p in template["components"][0]["parameters"]]
    assert texts[:2] == ["Ana", "Corte de pelo"]
    assert texts[2].endswith("(hora de Madrid)")
    assert avisa.notifications(status="sent")[0].provider_message_id == message["id"]


def test_meta_errors_by_code(install: MakeInstallation, fake_meta: tuple[FakeMeta, str]) -> None:
    """131047 (re-engagement) fails at once; 429 and 500 are retried."""
    fake, _ = fake_meta
    avisa = meta_install(install, fake_meta)
    fake.script["34600555001"] = [131047]
    fake.script["34600555002"] = [429]
    fake.script["34600555003"] = [500]
    for i in (1, 2, 3):
        avisa.book(channels=["whatsapp"], whatsapp=f"+3460055500{i}", email=f"m{i}@example.com")
    avisa.advance_to_due()
    avisa.deliver()
    rows = avisa.notifications(kind="reminder_24h")
    assert [(n.status, (n.last_error or "")[:6]) for n in rows] == [
        ("failed", "131047"),
        ("pending", "130429"),
        ("pending", "131000"),
    ]


def test_meta_rejects_an_unknown_template_permanently(
    install: MakeInstallation, fake_meta: tuple[FakeMeta, str]
) -> None:
    fake, url = fake_meta
    avisa = install(
        whatsapp_provider="meta",
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_base_url=url,
        whatsapp_templates={"*": {"es": "not_approved"}},
    )
    avisa.services.vault.create_secret(ACCESS_TOKEN, "WHATSAPP_ACCESS_TOKEN")
    avisa.book(channels=["whatsapp"], whatsapp=WA)
    avisa.advance_to_due()
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert row.status == "failed"
    assert (row.last_error or "").startswith("132001")
    assert fake.messages == []


def test_console_is_the_default_and_says_nothing_was_sent(install: MakeInstallation) -> None:
    """A fresh install with no provider account delivers to the database and data dir."""
    avisa = install()
    avisa.book(whatsapp=True)
    avisa.advance_to_due()
    assert avisa.deliver() == 3
    rows = avisa.notifications(status="sent")
    assert {(n.channel, n.provider) for n in rows} == {
        ("email", "console"),
        ("sms", "console"),
        ("whatsapp", "console"),
    }
    with avisa.engine.connect() as conn:
        outbox = conn.execute(sa.select(delivery_outbox).order_by(delivery_outbox.c.id)).all()
    by_channel = {r.channel: r for r in outbox}
    assert sorted(by_channel) == ["email", "sms", "whatsapp"]
    assert {r.note for r in outbox} == {NOT_SENT}
    assert by_channel["email"].subject.startswith("Recordatorio")
    assert by_channel["sms"].segments == 1
    files = sorted((avisa.settings.data_dir / "outbox").iterdir())
    assert len(files) == 3
    assert all(f.read_text().startswith("*** NOT SENT") for f in files)


def test_credentials_never_reach_rows_files_errors_or_logs(
    install: MakeInstallation,
    fake_twilio: tuple[FakeTwilio, str],
    fake_meta: tuple[FakeMeta, str],
    smtp: tuple[SmtpRecorder, int],
) -> None:
    """Canary: every provider configured, every outcome (sent, retried, failed); no
    credential value appears in any table, outbox file or captured log event."""
    twilio, twilio_url = fake_twilio
    meta, meta_url = fake_meta
    server, port = smtp
    avisa = install(
        email_provider="smtp",
        smtp_url=f"smtp://{USERNAME}@127.0.0.1:{port}?starttls=0",
        email_from="citas@example.com",
        sms_provider="twilio",
        twilio_account_sid=twilio.account_sid,
        twilio_from="+34911000111",
        twilio_base_url=twilio_url,
        whatsapp_provider="meta",
        meta_phone_number_id=PHONE_NUMBER_ID,
        meta_base_url=meta_url,
        whatsapp_templates={"*": {"es": "appointment_reminder"}},
    )
    vault = avisa.services.vault
    vault.create_secret(PASSWORD, "SMTP_PASSWORD")
    vault.create_secret(AUTH_TOKEN, "TWILIO_AUTH_TOKEN")
    vault.create_secret(ACCESS_TOKEN, "WHATSAPP_ACCESS_TOKEN")
    twilio.script["+34600123456"] = [500, 21211]
    server.script["ana@example.com"] = ["451 4.7.1 try later"]
    meta.script["34600123456"] = [131047]
    avisa.book(whatsapp=True)
    avisa.advance_to_due()
    with capture_logs() as logs:
        avisa.deliver()
        avisa.clock.advance(3600)
        avisa.deliver()
    assert {n.status for n in avisa.notifications(kind="reminder_24h")} == {"sent", "failed"}
    canaries = (PASSWORD, AUTH_TOKEN, ACCESS_TOKEN)
    dump = repr(logs)
    with avisa.engine.connect() as conn:
        for table in (notifications, delivery_outbox, cron_execution_logs, vault_audit):
            dump += repr(conn.execute(sa.select(table)).all())
    outbox = avisa.settings.data_dir / "outbox"
    if outbox.exists():
        dump += "".join(f.read_text() for f in outbox.iterdir())
    for canary in canaries:
        assert canary not in dump


def test_spanish_and_english_reminders_across_the_dst_change(install: MakeInstallation) -> None:
    """Appointments at 10:00 Madrid time on the Saturday before and the Monday after
    Europe's change to summer time (2026-03-29): every reminder says 10:00, in each
    client's language, and the 24 h reminder of the Monday one goes out on Sunday at
    10:00 local (08:00 UTC). The Saturday one's 1 h reminder, found only on Sunday (the
    worker was down), is skipped as too late rather than sent after the appointment."""
    avisa = install()
    now = avisa.clock.now()
    saturday = datetime(2026, 3, 28, 9, 0, tzinfo=UTC)  # 10:00 CET
    monday = datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # 10:00 CEST
    for start, locale, phone in (
        (saturday, "es", "+34600400001"),
        (monday, "es", "+34600400002"),
        (monday, "en", "+34600400003"),
    ):
        avisa.book(start - now, channels=["sms"], locale=locale, email=None, phone=phone)
    avisa.clock.set(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    avisa.deliver()
    avisa.clock.set(datetime(2026, 3, 29, 8, 0, tzinfo=UTC))
    avisa.deliver()
    with avisa.engine.connect() as conn:
        bodies = [r.body for r in conn.execute(sa.select(delivery_outbox.c.body))]
    assert sorted(bodies) == sorted(
        [
            "Hola Ana, te recordamos tu cita de Corte de pelo el sabado, 28 de marzo de 2026, "
            "10:00 (hora de Madrid).",
            "Hola Ana, te recordamos tu cita de Corte de pelo el lunes, 30 de marzo de 2026, "
            "10:00 (hora de Madrid).",
            "Hi Ana, reminder: your Corte de pelo appointment is on Monday, March 30, 2026, "
            "10:00 AM (Madrid Time).",
        ]
    )
    late = avisa.notifications(kind="reminder_1h", status="skipped")
    assert [(n.planned_start, n.reason) for n in late] == [(saturday, "too_late")]


def test_twilio_lookup_finds_only_the_same_body_to_the_same_number_since_a_time(
    fake_twilio: tuple[FakeTwilio, str],
) -> None:
    """What a worker taking over an expired lease asks Twilio before sending again."""
    fake, url = fake_twilio
    config = TwilioConfig(account_sid=fake.account_sid, base_url=url, sender="+34911000111")

    async def token() -> str:
        return AUTH_TOKEN

    async def go() -> list[str | None]:
        messages = TwilioMessages(config, token)
        try:
            fake.now = lambda: datetime(2026, 3, 2, 9, 0, 5, tzinfo=UTC).timestamp()
            sid = await messages.post({"To": WA, "From": "+34911000111", "Body": "Cita mañana"})
            await messages.post({"To": "+34600000001", "From": "+34911000111", "Body": "Otra"})
            since = datetime(2026, 3, 2, 9, 0, 5, 500_000, tzinfo=UTC)
            later = datetime(2026, 3, 2, 9, 0, 6, tzinfo=UTC)
            return [
                sid,
                await messages.find(WA, "Cita mañana", since),
                await messages.find(WA, "Otra", since),
                await messages.find("+34600000001", "Cita mañana", since),
                await messages.find(WA, "Cita mañana", later),
            ]
        finally:
            await messages.aclose()

    sid, found, other_body, other_number, too_early = asyncio.run(go())
    assert found == sid
    assert (other_body, other_number, too_early) == (None, None, None)
