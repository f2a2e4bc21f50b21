"""The delivery worker end to end against the fake Twilio, on SQLite and PostgreSQL:
sent once, transient retried, permanent failed at once, cancelled or moved never sent,
lease expiry, several workers at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlalchemy as sa
from structlog.testing import capture_logs

from avisa.db.tables import appointments, clients
from avisa.delivery import claims, store
from avisa.domain.appointments import cancel_appointment, update_appointment
from avisa.domain.schemas import AppointmentUpdate
from tests.delivery.conftest import Installation, MakeInstallation, run, twilio_settings
from tests.support.fake_twilio import AUTH_TOKEN, FakeTwilio

NUMBER = "+34600123456"


def sms_install(
    install: MakeInstallation, twilio: tuple[FakeTwilio, str], **extra: object
) -> Installation:
    fake, url = twilio
    installation = install(**twilio_settings(url, fake, **extra))
    installation.services.vault.create_secret(AUTH_TOKEN, "TWILIO_AUTH_TOKEN")
    return installation


def test_due_sms_is_sent_once_with_the_provider_id(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """At its due time the reminder goes to Twilio once; running again sends nothing."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    avisa.book(channels=["sms"])
    assert avisa.deliver() == 0, "nothing is due yet"
    avisa.advance_to_due()
    assert avisa.deliver() == 1
    assert avisa.deliver() == 0
    [message] = fake.messages
    assert message["To"] == NUMBER
    assert message["From"] == "+34911000111"
    assert "Corte de pelo" in message["Body"]
    # Receipts come back to avisa's own webhook (see M8 in docs/decisions.md).
    assert message["StatusCallback"].endswith("/webhooks/twilio/status")
    sent = avisa.notifications(status="sent")
    assert [(n.kind, n.provider, n.provider_message_id) for n in sent] == [
        ("reminder_24h", "twilio", message["sid"])
    ]
    assert sent[0].sent_at == avisa.clock.now()
    assert sent[0].attempts == 1


def test_messaging_service_sid_replaces_from(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio, twilio_messaging_service_sid="MG" + "a" * 32)
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    avisa.deliver()
    [message] = fake.messages
    assert message["MessagingServiceSid"] == "MG" + "a" * 32
    assert "From" not in message


def test_transient_errors_are_retried_with_backoff_then_sent(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """A 500 and a 429 put the notification back with a later retry time; then it goes."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    fake.script[NUMBER] = [500, 429]
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    avisa.deliver()
    [first] = avisa.notifications(kind="reminder_24h")
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error is not None
    assert first.last_error.startswith("20500")
    assert first.next_attempt_at is not None
    # Equal jitter: between half and all of the 30 s base.
    assert (
        timedelta(seconds=15) <= first.next_attempt_at - avisa.clock.now() <= timedelta(seconds=30)
    )
    assert avisa.deliver() == 0, "not before its retry time"
    avisa.clock.set(first.next_attempt_at)
    avisa.deliver()
    [second] = avisa.notifications(kind="reminder_24h")
    assert (second.status, second.attempts) == ("pending", 2)
    assert second.last_error is not None
    assert second.last_error.startswith("20429")
    assert second.next_attempt_at is not None
    assert second.next_attempt_at - avisa.clock.now() >= timedelta(seconds=30)
    avisa.clock.set(second.next_attempt_at)
    avisa.deliver()
    [done] = avisa.notifications(kind="reminder_24h")
    assert (done.status, done.attempts, done.last_error) == ("sent", 3, None)
    assert len(fake.messages) == 1


def test_transient_errors_stop_at_max_attempts(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio, delivery_max_attempts=3)
    fake.script[NUMBER] = [503] * 10
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    for _ in range(5):
        avisa.deliver()
        avisa.clock.advance(timedelta(minutes=10))
    [failed] = avisa.notifications(kind="reminder_24h")
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error is not None
    assert failed.last_error.startswith("gave up after 3 attempts")
    assert len(fake.rejected) == 3


def test_permanent_errors_fail_at_once(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """21211 (invalid number) and 21610 (opted out) are never retried."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    fake.script["+34600000021"] = [21211]
    fake.script["+34600000022"] = [21610]
    avisa.book(channels=["sms"], phone="+34600000021", email="a@example.com")
    avisa.book(channels=["sms"], phone="+34600000022", email="b@example.com")
    avisa.advance_to_due()
    avisa.deliver()
    avisa.clock.advance(timedelta(hours=2))
    avisa.deliver()
    rows = avisa.notifications(kind="reminder_24h")
    assert [(n.status, n.attempts) for n in rows] == [("failed", 1), ("failed", 1)]
    assert [n.last_error[:5] for n in rows if n.last_error] == ["21211", "21610"]
    assert len(fake.rejected) == 2


def test_cancelled_before_due_is_never_sent(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    appointment = avisa.book(channels=["sms"])
    with avisa.engine.begin() as conn:
        cancel_appointment(conn, appointment.id, avisa.settings, avisa.clock.now())
    avisa.clock.advance(timedelta(days=3))
    avisa.deliver()
    assert fake.messages == []
    assert {(n.status, n.reason) for n in avisa.notifications()} == {("cancelled", "cancelled")}


def test_appointment_cancelled_after_planning_is_caught_by_the_recheck(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Even when the pending notification was not cancelled (another writer changed the
    appointment directly), the worker re-reads the appointment and does not send."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    appointment = avisa.book(channels=["sms"])
    with avisa.engine.begin() as conn:
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == appointment.id)
            .values(status="cancelled")
        )
    avisa.advance_to_due()
    assert avisa.deliver() == 1
    assert fake.messages == []
    [first, _second] = avisa.notifications()
    assert (first.status, first.reason) == ("cancelled", "cancelled")


def test_rescheduled_appointment_is_reminded_for_the_new_time_only(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    appointment = avisa.book(channels=["sms"])
    old_due = appointment.starts_at - timedelta(hours=24)
    new_start = appointment.starts_at + timedelta(days=1, hours=2)
    with avisa.engine.begin() as conn:
        update_appointment(
            conn,
            appointment.id,
            AppointmentUpdate(starts_at=new_start, ends_at=new_start + timedelta(hours=1)),
            avisa.settings,
            avisa.clock.now(),
        )
    avisa.clock.set(old_due)
    avisa.deliver()
    assert fake.messages == []
    avisa.clock.set(new_start - timedelta(hours=24))
    avisa.deliver()
    [message] = fake.messages
    # 2026-03-06 11:00 UTC is 12:00 in Madrid (CET).
    assert "12:00" in message["Body"]
    sent = avisa.notifications(status="sent")
    assert [n.planned_start for n in sent] == [new_start]


def test_moved_while_pending_is_cancelled_as_rescheduled(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    appointment = avisa.book(channels=["sms"])
    with avisa.engine.begin() as conn:
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == appointment.id)
            .values(
                starts_at=appointment.starts_at + timedelta(hours=3),
                ends_at=appointment.ends_at + timedelta(hours=3),
            )
        )
    avisa.advance_to_due()
    avisa.deliver()
    assert fake.messages == []
    assert avisa.notifications()[0].reason == "rescheduled"


def test_lease_expiry_after_a_killed_worker_makes_it_claimable_again(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """A worker claims and dies before sending: nobody sends while its lease runs; after
    it, another worker sends once, and the dead worker's late outcome is refused."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    lease = avisa.settings.delivery_lease
    [claim] = claims.claim_due(
        avisa.engine, avisa.clock.now(), limit=10, lease=lease, max_attempts=5
    )
    assert avisa.deliver() == 0, "leased to the dead worker"
    avisa.clock.advance(lease)
    assert avisa.deliver() == 1
    [row] = avisa.notifications(kind="reminder_24h")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(fake.messages) == 1
    late = store.Outcome(
        id=claim.id, attempts=claim.attempts, status="failed", at=avisa.clock.now(), error="late"
    )
    assert store.record_outcomes(avisa.engine, [late]) == [False]
    assert avisa.notifications(kind="reminder_24h")[0].status == "sent"


def test_a_message_twilio_took_just_before_its_worker_died_is_not_sent_again(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """The dead worker's send reached Twilio but its outcome was never written: the worker
    that takes the expired lease finds the message in Twilio's list and records it."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    lease = avisa.settings.delivery_lease
    [claim] = claims.claim_due(
        avisa.engine, avisa.clock.now(), limit=10, lease=lease, max_attempts=5
    )
    assert not claim.resumed

    async def dead_worker_sends() -> str:
        worker = avisa.worker()
        try:
            return await worker.transports["sms"].send(worker.message(claim))
        finally:
            await worker.aclose()

    sid = run(dead_worker_sends())
    avisa.clock.advance(lease)
    assert avisa.deliver() == 1
    [row] = avisa.notifications(kind="reminder_24h")
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 2, sid)
    assert len(fake.messages) == 1


def test_a_lookup_the_provider_refuses_does_not_stop_the_send(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """A key that may send but not read messages: the resumed claim is sent (at least
    once) and the refusal logged, instead of failing the reminder."""
    fake, _ = fake_twilio
    fake.listing_allowed = False
    avisa = sms_install(install, fake_twilio)
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    lease = avisa.settings.delivery_lease
    claims.claim_due(avisa.engine, avisa.clock.now(), limit=10, lease=lease, max_attempts=5)
    avisa.clock.advance(lease)
    with capture_logs() as logs:
        assert avisa.deliver() == 1
    [row] = avisa.notifications(kind="reminder_24h")
    assert (row.status, row.attempts) == ("sent", 2)
    assert len(fake.messages) == 1
    [refused] = [entry for entry in logs if entry["event"] == "delivery_lookup_refused"]
    assert "20403" in refused["error"]


def test_lease_expiring_on_the_last_attempt_fails_the_notification(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    avisa = sms_install(install, fake_twilio, delivery_max_attempts=1)
    avisa.book(channels=["sms"])
    avisa.advance_to_due()
    lease = avisa.settings.delivery_lease
    claims.claim_due(avisa.engine, avisa.clock.now(), limit=10, lease=lease, max_attempts=1)
    avisa.clock.advance(lease)
    avisa.deliver()
    [row] = avisa.notifications(kind="reminder_24h")
    assert row.status == "failed"
    assert row.last_error is not None
    assert "lease expired" in row.last_error


def test_concurrent_workers_send_each_notification_exactly_once(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio, delivery_concurrency=4)
    for i in range(24):
        avisa.book(channels=["sms"], phone=f"+346001000{i:02d}", email=f"c{i}@example.com")
    avisa.advance_to_due()

    async def three_workers() -> list[int]:
        workers = [avisa.worker() for _ in range(3)]
        try:
            return list(await asyncio.gather(*(w.run_pending() for w in workers)))
        finally:
            for w in workers:
                await w.aclose()

    handled = run(three_workers())
    assert sum(handled) == 24
    recipients = [m["To"] for m in fake.messages]
    assert len(recipients) == 24
    assert len(set(recipients)) == 24
    assert {n.status for n in avisa.notifications(kind="reminder_24h")} == {"sent"}


def test_an_opt_out_after_planning_is_caught_by_the_recheck(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """A STOP that lands after a reminder was planned (its pending row was not cancelled)
    still stops it: the worker reads the client's opt-out before sending."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    avisa.book(channels=["sms"])
    with avisa.engine.begin() as conn:
        conn.execute(sa.update(clients).values(opt_out=["sms"]))
    avisa.advance_to_due()
    assert avisa.deliver() == 1
    assert fake.messages == []
    first = avisa.notifications()[0]
    assert (first.status, first.reason) == ("cancelled", "opted_out")


def test_a_sealed_vault_defers_sends_without_spending_attempts(
    install: MakeInstallation, fake_twilio: tuple[FakeTwilio, str]
) -> None:
    """Root key removed mid-run: the cached token is not used, nothing reaches Twilio, the
    notification waits (attempt refunded) and goes out once the key is back."""
    fake, _ = fake_twilio
    avisa = sms_install(install, fake_twilio)
    key = avisa.settings.root_key_path
    away = key.with_name("root.key.away")
    avisa.book(channels=["sms"])
    avisa.advance_to_due()

    async def go() -> None:
        worker = avisa.worker()
        try:
            assert await worker.run_pending() == 1  # the token is read and cached
            key.rename(away)
            avisa.advance_to_due()  # the 1 h reminder
            assert await worker.run_pending() == 1
            [waiting] = [n for n in avisa.notifications(status="pending") if n.last_error]
            assert waiting.attempts == 0
            assert "vault is sealed" in (waiting.last_error or "")
            assert waiting.next_attempt_at is not None
            assert waiting.next_attempt_at > avisa.clock.now()
            assert len(fake.messages) == 1
            away.rename(key)
            avisa.clock.set(waiting.next_attempt_at)
            assert await worker.run_pending() == 1
        finally:
            await worker.aclose()

    run(go())
    assert [m["To"] for m in fake.messages] == [NUMBER, NUMBER]
    assert [(n.kind, n.attempts) for n in avisa.notifications(status="sent")] == [
        ("reminder_24h", 1),
        ("reminder_1h", 1),
    ]
