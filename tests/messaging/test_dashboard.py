"""The dashboard's reminders page shows delivery receipts and the replies clients sent,
an unrecognised one included."""

from __future__ import annotations

from tests.dashboard.conftest import csrf_of
from tests.messaging.conftest import Messaging, book

SID = "SM" + "b" * 32


def test_reminders_page_shows_delivery_and_replies(avisa: Messaging) -> None:
    appointment = book(avisa, channels=["sms"], whatsapp=None)
    first = avisa.notifications(appointment_id=appointment.id)[0]
    avisa.clock.set(first.due_at)
    avisa.mark_sent(first.id, "twilio", SID)
    avisa.status(SID, "delivered")
    avisa.sms("¿hay aparcamiento?", "SM-q")
    client = avisa.client
    form = client.get("/dashboard/login")
    key = avisa.services.service_keys.keys()["service_role"]
    login = client.post(
        "/dashboard/login",
        data={"csrf_token": csrf_of(form.text), "credential": key, "next": "/dashboard/jobs"},
    )
    assert login.status_code == 303, login.text
    page = client.get("/dashboard/reminders").text
    assert ", delivered " in page
    assert "¿hay aparcamiento?" in page
    assert "unrecognised" in page
