"""Replies over real HTTP, on SQLite and PostgreSQL: "C" confirms, "NO" cancels (and its
pending reminders), STOP opts out at once, the nearest appointment is meant and named,
strangers and unknown words change nothing, replays and races stay consistent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from tests.messaging.conftest import (
    PHONE,
    MakeMessaging,
    Messaging,
    WindowFakeMeta,
    book,
    twilio_signature,
)
from tests.support.fake_meta import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.support.fake_twilio import FakeTwilio
from tests.support.server import serve_app


def meta_text(body: str, wamid: str, sender: str = PHONE) -> dict[str, object]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"wa_id": sender.lstrip("+"), "profile": {"name": "Ana"}}],
        "messages": [
            {
                "from": sender.lstrip("+"),
                "id": wamid,
                "timestamp": "1772442000",
                "type": "text",
                "text": {"body": body},
            }
        ],
    }


def test_c_by_sms_confirms_and_answers_in_spanish(avisa: Messaging) -> None:
    appointment = book(avisa)
    response = avisa.sms("  Sí ", "SM1")
    assert response.status_code == 200
    assert response.text.endswith("<Response></Response>")
    after = avisa.appointment(appointment.id)
    assert (after.status, after.confirmed_at) == ("confirmed", avisa.clock.now())
    [row] = avisa.inbound()
    assert (row["intent"], row["outcome"], row["appointment_id"], row["channel"]) == (
        "confirm",
        "confirmed",
        appointment.id,
        "sms",
    )
    # Console provider: the answer is kept on the row, marked as not sent anywhere.
    assert row["answer_status"] == "recorded"
    assert row["answer"] == (
        "Gracias, Ana. Su cita de Corte de pelo del jueves, 5 de marzo de 2026, 10:00 "
        "queda confirmada."
    )
    shown = avisa.client.get(
        f"/api/v1/appointments/{appointment.id}", headers=headers(avisa)
    ).json()
    assert (shown["status"], shown["confirmed_via"]) == ("confirmed", "sms")
    assert shown["last_reply"]["outcome"] == "confirmed"


def headers(avisa: Messaging) -> dict[str, str]:
    return {"Authorization": f"Bearer {avisa.services.service_keys.keys()['service_role']}"}


def test_cancel_by_whatsapp_cancels_pending_reminders_and_answers_in_english(
    avisa: Messaging,
) -> None:
    appointment = book(avisa, locale="en", timezone="Europe/London")
    assert {n.status for n in avisa.notifications(appointment_id=appointment.id)} == {"pending"}
    response = avisa.meta(meta_text("Cancel ", "wamid.in1"))
    assert response.status_code == 200, response.text
    assert avisa.appointment(appointment.id).status == "cancelled"
    assert {(n.status, n.reason) for n in avisa.notifications(appointment_id=appointment.id)} == {
        ("cancelled", "cancelled")
    }
    [row] = avisa.inbound()
    assert (row["channel"], row["outcome"]) == ("whatsapp", "cancelled")
    assert row["answer"].startswith("Your Corte de pelo appointment on Thursday, March 5, 2026")
    assert "is cancelled" in row["answer"]


def test_keywords_through_the_webhook(avisa: Messaging) -> None:
    """Each keyword, from its own client (so each acts on a scheduled appointment)."""
    cases = [
        ("CONFIRMAR", "confirmed"),
        ("yes", "confirmed"),
        ("1", "confirmed"),
        (" cancelar", "cancelled"),
        ("CANCEL", "cancelled"),
        ("2", "cancelled"),
    ]
    for index, (text, status) in enumerate(cases):
        phone = f"+3460012340{index}"
        appointment = book(avisa, phone=phone, email=f"c{index}@example.com")
        avisa.sms(text, f"SM-{index}", sender=phone)
        assert avisa.appointment(appointment.id).status == status, text


def test_stop_opts_out_of_that_channel_at_once(avisa: Messaging) -> None:
    """BAJA by SMS: SMS opted out, pending SMS reminders cancelled as opted_out and never
    sent by the worker; WhatsApp reminders stay; a new booking skips SMS."""
    appointment = book(avisa)
    avisa.sms(" baja ", "SM1")
    client = avisa.client_of(appointment)
    assert client.opt_out == {"sms"}
    by_channel = {
        (n.channel, n.status, n.reason) for n in avisa.notifications(appointment_id=appointment.id)
    }
    assert by_channel == {("sms", "cancelled", "opted_out"), ("whatsapp", "pending", None)}
    [row] = avisa.inbound()
    assert row["outcome"] == "opted_out"
    assert "No le enviaremos más recordatorios por SMS" in row["answer"]
    # The very next reminder is due: the worker sends WhatsApp only.
    avisa.advance_to_due()
    assert avisa.deliver() == 1
    sent = avisa.notifications(status="sent")
    assert [n.channel for n in sent] == ["whatsapp"]
    later = book(avisa, in_=timedelta(days=6))
    assert {
        (n.channel, n.status, n.reason)
        for n in avisa.notifications(appointment_id=later.id)
        if n.channel == "sms"
    } == {("sms", "skipped", "opted_out")}


def test_unknown_number_is_recorded_and_changes_nothing(avisa: Messaging) -> None:
    """Decision: a stranger gets no answer (avisa does not talk to numbers it does not
    know), and the message is kept for a person to read."""
    appointment = book(avisa)
    assert avisa.sms("C", "SM1", sender="+34699000111").status_code == 200
    [row] = avisa.inbound()
    assert (row["outcome"], row["client_id"], row["answer"]) == ("unknown_sender", None, None)
    assert avisa.appointment(appointment.id).status == "scheduled"


def test_unrecognised_reply_is_recorded_surfaced_and_answered_with_help(
    avisa: Messaging,
) -> None:
    appointment = book(avisa)
    avisa.sms("¿puedo ir a las 11?", "SM1")
    assert avisa.appointment(appointment.id).status == "scheduled"
    [row] = avisa.inbound()
    assert (row["intent"], row["outcome"], row["appointment_id"]) == (
        "unknown",
        "unrecognised",
        appointment.id,
    )
    assert "Responda C para confirmar" in row["answer"]
    assert "NO para cancelarla o STOP" in row["answer"]
    shown = avisa.client.get(
        f"/api/v1/appointments/{appointment.id}", headers=headers(avisa)
    ).json()
    assert shown["last_reply"]["body"] == "¿puedo ir a las 11?"
    assert shown["last_reply"]["outcome"] == "unrecognised"
    assert shown["confirmed_via"] is None


def test_the_nearest_appointment_is_meant_and_named(avisa: Messaging) -> None:
    later = book(avisa, in_=timedelta(days=5), service="Tinte")
    nearest = book(avisa, in_=timedelta(days=2), service="Manicura")
    avisa.sms("c", "SM1")
    assert avisa.appointment(nearest.id).status == "confirmed"
    assert avisa.appointment(later.id).status == "scheduled"
    [row] = avisa.inbound()
    assert "Manicura" in row["answer"]
    assert "4 de marzo" in row["answer"]


def test_a_replayed_reply_is_acted_on_once(avisa: Messaging) -> None:
    """Twilio retries a webhook: the same MessageSid cancels one appointment, not two."""
    first = book(avisa, in_=timedelta(days=2))
    second = book(avisa, in_=timedelta(days=4))
    for _ in range(2):
        assert avisa.sms("NO", "SM-same").status_code == 200
    assert avisa.appointment(first.id).status == "cancelled"
    assert avisa.appointment(second.id).status == "scheduled"
    assert len(avisa.inbound()) == 1


@pytest.mark.parametrize("texts", [("C", "C"), ("C", "NO")])
def test_concurrent_replies_have_one_consistent_outcome(
    avisa: Messaging, texts: tuple[str, str]
) -> None:
    """Two replies at once: both answered 200; the appointment ends as the replies, taken
    one after the other in either order, leave it."""
    appointment = book(avisa)
    path = "/webhooks/twilio/inbound"
    url = str(avisa.client.base_url)

    def post(index: int) -> int:
        form = {"MessageSid": f"SM{index}", "From": PHONE, "Body": texts[index]}
        signature = twilio_signature(avisa.settings.public_url + path, form)
        response = httpx.post(
            url + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=30
        )
        return response.status_code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(post, range(2))) == [200, 200]
    outcomes = sorted(r["outcome"] for r in avisa.inbound())
    status = avisa.appointment(appointment.id).status
    if texts == ("C", "C"):
        assert (status, outcomes) == ("confirmed", ["already_confirmed", "confirmed"])
    else:
        assert status == "cancelled"
        assert outcomes in (["cancelled", "confirmed"], ["cancelled", "no_appointment"])


def test_answer_goes_through_twilio_sms(install: MakeMessaging) -> None:
    fake = FakeTwilio()
    with serve_app(fake.app) as url:
        avisa = install(
            sms_provider="twilio",
            twilio_account_sid=fake.account_sid,
            twilio_from="+34911000111",
            twilio_base_url=url,
        )
        book(avisa)
        avisa.sms("NO", "SM1")
    [message] = fake.messages
    assert (message["To"], message["From"]) == (PHONE, "+34911000111")
    assert "cancelada" in message["Body"]
    [row] = avisa.inbound()
    assert (row["answer_status"], row["answer_message_id"]) == ("sent", message["sid"])


def test_answer_is_free_text_on_meta_inside_the_window(
    install: MakeMessaging, fake_meta: tuple[WindowFakeMeta, str]
) -> None:
    fake, url = fake_meta
    avisa = install(
        whatsapp_provider="meta", meta_phone_number_id=PHONE_NUMBER_ID, meta_base_url=url
    )
    avisa.services.vault.create_secret(ACCESS_TOKEN, "WHATSAPP_ACCESS_TOKEN")
    book(avisa)
    fake.open_window(PHONE.lstrip("+"))
    avisa.meta(meta_text("Si", "wamid.in1"))
    [message] = fake.messages
    assert message["type"] == "text"
    assert "queda confirmada" in message["text"]["body"]
    [row] = avisa.inbound()
    assert (row["answer_status"], row["answer_message_id"]) == ("sent", message["id"])
