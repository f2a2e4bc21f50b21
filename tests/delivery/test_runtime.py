"""Wiring and contracts around the worker: configuration errors stop the start with one
line, SMTP URLs, the re-check's answers, and the Batcher's error path."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from avisa.config import load_settings
from avisa.db.tables import appointments
from avisa.delivery import claims
from avisa.delivery.batch import Batcher
from avisa.delivery.channels.email import SmtpConfig
from avisa.delivery.runtime import build_transports
from avisa.errors import ConfigError
from avisa.services import build_services
from tests.delivery.conftest import MakeInstallation, run
from tests.support.cli import invoke


def test_recheck_answers_cancelled_rescheduled_lease_lost_or_go(
    install: MakeInstallation,
) -> None:
    """The re-check renews the lease of rows still held and says why not to send."""
    avisa = install()
    kept = avisa.book(channels=["sms"], phone="+34600300001", email="k@example.com")
    cancelled = avisa.book(channels=["sms"], phone="+34600300002", email="c@example.com")
    moved = avisa.book(channels=["sms"], phone="+34600300003", email="m@example.com")
    avisa.advance_to_due()
    lease = timedelta(minutes=2)
    held = claims.claim_due(avisa.engine, avisa.clock.now(), limit=10, lease=lease, max_attempts=5)
    by_appointment = {c.appointment_id: c for c in held}
    with avisa.engine.begin() as conn:
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == cancelled.id)
            .values(status="cancelled")
        )
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == moved.id)
            .values(
                starts_at=moved.starts_at + timedelta(hours=1),
                ends_at=moved.ends_at + timedelta(hours=1),
            )
        )
    later = avisa.clock.advance(timedelta(seconds=90))
    asked = [
        (by_appointment[kept.id].id, by_appointment[kept.id].attempts),
        (by_appointment[cancelled.id].id, by_appointment[cancelled.id].attempts),
        (by_appointment[moved.id].id, by_appointment[moved.id].attempts),
        (by_appointment[kept.id].id, by_appointment[kept.id].attempts + 1),
    ]
    assert claims.recheck(avisa.engine, asked, later, lease) == [
        None,
        "cancelled",
        "rescheduled",
        claims.LEASE_LOST,
    ]
    [row] = [n for n in avisa.notifications() if n.id == by_appointment[kept.id].id]
    assert row.next_attempt_at == later + lease, "the lease was renewed"


def test_claims_take_expired_leases_before_new_work(install: MakeInstallation) -> None:
    avisa = install()
    avisa.book(channels=["sms"], phone="+34600300011", email="a1@example.com")
    avisa.advance_to_due()
    lease = timedelta(minutes=2)
    [first] = claims.claim_due(
        avisa.engine, avisa.clock.now(), limit=1, lease=lease, max_attempts=5
    )
    avisa.book(
        channels=["sms"], phone="+34600300012", email="a2@example.com", in_=timedelta(hours=25)
    )
    avisa.clock.advance(lease + timedelta(hours=1))
    [again] = claims.claim_due(
        avisa.engine, avisa.clock.now(), limit=1, lease=lease, max_attempts=5
    )
    assert (again.id, again.attempts) == (first.id, 2)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sms_provider": "twilio"}, "AVISA_TWILIO_ACCOUNT_SID"),
        ({"sms_provider": "twilio", "twilio_account_sid": "AC1"}, "AVISA_TWILIO_FROM"),
        ({"email_provider": "smtp", "email_from": "a@example.com"}, "AVISA_SMTP_URL"),
        (
            {"email_provider": "smtp", "email_from": "a@b.c", "smtp_url": "http://x"},
            "invalid AVISA_SMTP_URL",
        ),
        ({"whatsapp_provider": "meta"}, "AVISA_META_PHONE_NUMBER_ID"),
        ({"whatsapp_provider": "twilio", "twilio_account_sid": "AC1"}, "AVISA_WHATSAPP_FROM"),
    ],
)
def test_incomplete_provider_settings_stop_the_start(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    services = build_services(load_settings(_env_file=None, data_dir=tmp_path, **overrides))
    with pytest.raises(ConfigError, match=message):
        build_transports(services)


def test_console_everywhere_by_default(tmp_path: Path) -> None:
    transports = build_transports(build_services(load_settings(_env_file=None, data_dir=tmp_path)))
    assert {name: t.provider for name, t in transports.items()} == {
        "email": "console",
        "sms": "console",
        "whatsapp": "console",
    }


@pytest.mark.parametrize(
    ("url", "host", "port", "user", "tls", "starttls"),
    [
        ("smtp://u%40x.es@mail.example.com:587", "mail.example.com", 587, "u@x.es", False, True),
        ("smtp://mail.example.com", "mail.example.com", 587, None, False, True),
        ("smtps://u@mail.example.com", "mail.example.com", 465, "u", True, False),
        ("smtp://relay:25?starttls=0", "relay", 25, None, False, False),
    ],
)  # fmt: skip
def test_smtp_urls(
    url: str, host: str, port: int, user: str | None, tls: bool, starttls: bool
) -> None:
    config = SmtpConfig.from_url(url, "citas@example.com")
    assert (config.host, config.port, config.username) == (host, port, user)
    assert (config.use_tls, config.start_tls) == (tls, starttls)


def test_smtp_url_refuses_a_password() -> None:
    with pytest.raises(ValueError, match="vault"):
        SmtpConfig.from_url("smtp://u:secret@mail.example.com", "a@example.com")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("rate_limits", "twilio=fast", "not a limit like twilio=10/s"),
        ("rate_limits", "twilio=0/s", "not a limit"),
        ("delivery_poll_interval", "2m", "between 1s and 30s"),
        ("delivery_max_attempts", "0", "AVISA_DELIVERY_MAX_ATTEMPTS"),
    ],
)
def test_delivery_settings_are_validated(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(_env_file=None, **{name: value})


def test_batcher_hands_the_error_to_every_caller_of_the_batch() -> None:
    def explode(items: list[int]) -> list[int]:
        raise RuntimeError(f"failed on {len(items)}")

    async def go() -> list[BaseException | int]:
        batcher: Batcher[int, int] = Batcher(explode)
        return await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)

    results = run(go())
    assert [str(r) for r in results] == ["failed on 3"] * 3


@pytest.mark.parametrize("command", [["serve"], ["worker"]])
def test_serve_and_worker_refuse_to_start_with_an_incomplete_provider(
    tmp_path: Path, command: list[str]
) -> None:
    """Both start the delivery worker, so both stop at once, in one line, naming what
    is missing."""
    env = {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_SMS_PROVIDER": "twilio"}
    result = invoke(*command, env=env)
    assert result.returncode == 1
    assert "AVISA_TWILIO_ACCOUNT_SID" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
