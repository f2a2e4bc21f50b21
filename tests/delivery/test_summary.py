"""What people see: process-reminders reports what was sent since its previous run (and
its execution log keeps it); the dashboard's counts by channel and status."""

from __future__ import annotations

from datetime import timedelta

from avisa.delivery.summary import delivery_counts
from avisa.functions.logs import list_executions, record_execution
from avisa.functions.registry import process_reminders
from tests.delivery.conftest import Installation, MakeInstallation


def _run_process_reminders(avisa: Installation) -> dict[str, object]:
    """Call the function and log it, as the HTTP endpoint does."""
    now = avisa.clock.now()
    result = process_reminders(avisa.services, {}, now)
    record_execution(
        avisa.engine,
        job_name="process-appointment-reminders-hourly",
        function_name="process-reminders",
        status="success",
        message=result.message,
        details=result.details,
        at=now,
    )
    return {"message": result.message, **result.details}


def test_process_reminders_reports_sends_since_its_previous_run(
    install: MakeInstallation,
) -> None:
    avisa = install()
    first = _run_process_reminders(avisa)
    assert first["delivery"] == {
        "since": None,
        "sent": {"email": 0, "sms": 0, "whatsapp": 0},
        "failed": {"email": 0, "sms": 0, "whatsapp": 0},
    }
    avisa.book(whatsapp=True)
    avisa.advance_to_due()
    avisa.deliver()
    avisa.clock.advance(timedelta(minutes=5))
    second = _run_process_reminders(avisa)
    delivery = second["delivery"]
    assert isinstance(delivery, dict)
    assert delivery["sent"] == {"email": 1, "sms": 1, "whatsapp": 1}
    assert str(second["message"]).endswith("since the last run sent 3, failed 0")
    avisa.clock.advance(timedelta(minutes=5))
    third = _run_process_reminders(avisa)
    assert isinstance(third["delivery"], dict)
    assert third["delivery"]["sent"] == {"email": 0, "sms": 0, "whatsapp": 0}
    [log, *_] = list_executions(avisa.engine, job_name="process-appointment-reminders-hourly")
    assert log.details["delivery"] == third["delivery"]


def test_dashboard_counts_by_channel_and_status(install: MakeInstallation) -> None:
    avisa = install()
    avisa.book(channels=["email", "sms"])
    avisa.book(channels=["email"], email="b@example.com", phone=None)
    avisa.advance_to_due()
    avisa.deliver()
    counts = delivery_counts(avisa.engine)
    assert counts["email"]["sent"] == 2
    assert counts["email"]["pending"] == 2  # the 1 h reminders
    assert counts["sms"] == {"sent": 1, "failed": 0, "pending": 1, "sending": 0}
    assert counts["whatsapp"] == {"sent": 0, "failed": 0, "pending": 0, "sending": 0}
    assert delivery_counts(avisa.engine, since=avisa.clock.now() + timedelta(seconds=1)) == {
        ch: {"sent": 0, "failed": 0, "pending": 0, "sending": 0}
        for ch in ("email", "sms", "whatsapp")
    }
