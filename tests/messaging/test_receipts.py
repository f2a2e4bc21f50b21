"""Delivery receipts over real HTTP, on SQLite and PostgreSQL: signed or refused, replayed
and reordered callbacks never move a notification's delivery state backwards."""

from __future__ import annotations

from datetime import UTC, datetime

from avisa.db.tables import vault_audit
from avisa.domain.model import NotificationRecord
from tests.messaging.conftest import (
    VERIFY_TOKEN,
    MakeMessaging,
    Messaging,
    book,
    twilio_signature,
)
from tests.support.fake_twilio import FakeTwilio
from tests.support.server import serve_app

SID = "SM" + "a" * 32


def sent_sms(avisa: Messaging, sid: str = SID) -> NotificationRecord:
    """Book for an SMS-only client and mark its first reminder sent as `sid` by Twilio."""
    appointment = book(avisa, channels=["sms"], whatsapp=None)
    first = avisa.notifications(appointment_id=appointment.id)[0]
    avisa.mark_sent(first.id, "twilio", sid)
    return first


def test_signed_twilio_receipt_marks_delivered(avisa: Messaging) -> None:
    """A signed `delivered` sets `delivered_at`; the receipt is recorded as applied; the
    API shows the delivery."""
    note = sent_sms(avisa)
    response = avisa.status(SID, "delivered")
    assert response.status_code == 204, response.text
    [after] = avisa.notifications(id=note.id)
    assert (after.status, after.delivered_at) == ("sent", avisa.clock.now())
    [event] = avisa.events()
    assert (event["notification_id"], event["status"], event["applied"]) == (
        note.id,
        "delivered",
        True,
    )
    key = avisa.services.service_keys.keys()["service_role"]
    [shown] = avisa.client.get(
        f"/api/v1/appointments/{note.appointment_id}/notifications",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["items"][:1]
    assert shown["delivery_status"] == "delivered"
    assert shown["delivered_at"] is not None
    # A receipt for a message that is not a reminder is recorded, linked to nothing.
    assert avisa.status("SM" + "f" * 32, "delivered").status_code == 204
    assert avisa.events()[-1]["notification_id"] is None


def test_unsigned_or_badly_signed_callbacks_are_refused_and_change_nothing(
    avisa: Messaging,
) -> None:
    note = sent_sms(avisa)
    form = {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "30003"}
    for signature in (None, "", "bm90IGEgc2lnbmF0dXJl", avisa_sig_for_other_url(avisa, form)):
        response = avisa.twilio("/webhooks/twilio/status", form, signature=signature)
        assert response.status_code == 403, signature
        assert "stack" not in response.text
    inbound = {"MessageSid": "SM1", "From": "+34600123456", "Body": "NO"}
    audited = len(avisa.rows(vault_audit))
    assert avisa.twilio("/webhooks/twilio/inbound", inbound, signature=None).status_code == 403
    assert avisa.meta({"statuses": []}, signature=None).status_code == 403
    assert len(avisa.rows(vault_audit)) == audited, "unsigned requests do not read the vault"
    assert avisa.meta({"statuses": []}, signature="sha256=" + "0" * 64).status_code == 403
    assert avisa.events() == []
    assert avisa.inbound() == []
    [after] = avisa.notifications(id=note.id)
    assert after.status == "sent"


def avisa_sig_for_other_url(avisa: Messaging, form: dict[str, str]) -> str:
    """A real signature, but for another URL (a replay against another endpoint)."""
    return twilio_signature(avisa.settings.public_url + "/webhooks/twilio/inbound", form)


def test_replayed_and_reordered_receipts_never_move_backwards(avisa: Messaging) -> None:
    """read, then delivered, then read again, then failed: the state stays read; each
    distinct callback is recorded once."""
    note = sent_sms(avisa)
    assert avisa.status(SID, "read").status_code == 204
    read_at = avisa.clock.now()
    avisa.clock.advance(60)
    assert avisa.status(SID, "delivered").status_code == 204
    assert avisa.status(SID, "read").status_code == 204
    assert avisa.status(SID, "failed", ErrorCode="30003").status_code == 204
    [after] = avisa.notifications(id=note.id)
    assert (after.status, after.delivered_at, after.last_error) == ("sent", read_at, None)
    assert [(e["provider_status"], e["applied"]) for e in avisa.events()] == [
        ("read", True),
        ("delivered", False),
        ("failed", False),
    ]


def test_failure_then_late_delivery(avisa: Messaging) -> None:
    """`undelivered` fails a sent reminder with the code; a later `delivered` (callbacks
    out of order) proves arrival and puts it back to sent."""
    note = sent_sms(avisa)
    avisa.status(SID, "sent")
    avisa.status(SID, "undelivered", ErrorCode="30003")
    [failed] = avisa.notifications(id=note.id)
    assert (failed.status, failed.last_error) == (
        "failed",
        "30003: the provider reported undelivered",
    )
    avisa.status(SID, "delivered")
    [after] = avisa.notifications(id=note.id)
    assert (after.status, after.last_error, after.delivered_at) == ("sent", None, avisa.clock.now())


def test_meta_receipts_signed_in_order_and_replayed(avisa: Messaging) -> None:
    """Meta's handshake; its statuses read then delivered (Meta's timestamps), replayed."""
    ok = avisa.client.get(
        "/webhooks/whatsapp",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
    )
    assert (ok.status_code, ok.text) == (200, "42")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "42"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
        {"hub.challenge": "42"},
    ):
        assert avisa.client.get("/webhooks/whatsapp", params=params).status_code == 403
    appointment = book(avisa, channels=["whatsapp"])
    note = avisa.notifications(appointment_id=appointment.id)[0]
    avisa.mark_sent(note.id, "meta", "wamid.X1")
    statuses = [
        {"id": "wamid.X1", "status": "read", "timestamp": "1772442600", "recipient_id": "1"},
        {"id": "wamid.X1", "status": "delivered", "timestamp": "1772442060"},
    ]
    for _ in range(2):
        response = avisa.meta({"messaging_product": "whatsapp", "statuses": statuses})
        assert response.status_code == 200, response.text
    [after] = avisa.notifications(id=note.id)
    assert after.delivered_at == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
    assert [(e["provider_status"], e["applied"]) for e in avisa.events()] == [
        ("read", True),
        ("delivered", False),
    ]
    key = avisa.services.service_keys.keys()["service_role"]
    items = avisa.client.get(
        f"/api/v1/appointments/{appointment.id}/notifications",
        headers={"Authorization": f"Bearer {key}"},
    ).json()["items"]
    shown = next(n for n in items if n["id"] == note.id)
    assert (shown["delivery_status"], shown["read_at"]) == ("read", "2026-03-02T10:10:00+01:00")


def test_missing_signing_secret_answers_503_and_bodies_are_capped(install: MakeMessaging) -> None:
    avisa = install(secrets=False)
    response = avisa.status(SID, "delivered")
    assert response.status_code == 503
    assert "TWILIO_AUTH_TOKEN" in response.json()["error"]["message"]
    # Too large a body is refused before anything else is looked at.
    huge = avisa.twilio("/webhooks/twilio/status", {"MessageSid": "x" * 300_000})
    assert huge.status_code == 413
    assert avisa.events() == []


def test_receipt_for_a_reminder_the_worker_sent_through_twilio(install: MakeMessaging) -> None:
    """End to end: the delivery worker sends through (fake) Twilio, Twilio's receipt for
    that sid marks the reminder delivered."""
    fake = FakeTwilio()
    with serve_app(fake.app) as url:
        avisa = install(
            sms_provider="twilio",
            twilio_account_sid=fake.account_sid,
            twilio_from="+34911000111",
            twilio_base_url=url,
        )
        book(avisa, channels=["sms"], whatsapp=None)
        avisa.advance_to_due()
        assert avisa.deliver() == 1
    [message] = fake.messages
    assert avisa.status(message["sid"], "delivered").status_code == 204
    [sent] = avisa.notifications(status="sent")
    assert (sent.provider_message_id, sent.delivered_at) == (message["sid"], avisa.clock.now())
