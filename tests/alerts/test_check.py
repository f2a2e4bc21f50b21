"""Alerts end to end: a real SMTP server (aiosmtpd) and a real webhook receiver, on SQLite
and PostgreSQL, with time moved by the test's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from avisa.alerts import store
from avisa.alerts.check import check_alerts
from avisa.alerts.job import ALERTS_JOB_NAME
from avisa.alerts.rules import Observation, decide
from avisa.cron.runtime import build_scheduler, cron_jobs
from avisa.db.tables import alert_state
from avisa.functions.logs import record_execution
from tests.alerts.conftest import OPERATOR, Watched

JOB = "job:nightly-export"


def _state(watched: Watched, subject: str) -> sa.Row[tuple[object, ...]]:
    with watched.services.engine.connect() as conn:
        return conn.execute(sa.select(alert_state).where(alert_state.c.subject == subject)).one()


def test_failed_run_alerts_by_email_and_webhook_once_then_on_recovery(watched: Watched) -> None:
    """A failure is announced once on both channels; its recovery once more."""
    assert watched.run("nightly-export").status == "failed"
    report = check_alerts(watched.services)
    assert report.errors == []
    assert (JOB, "failure") in watched.hook.kinds()
    body = next(b for b in watched.hook.bodies if b["subject"] == JOB)
    assert "no_such_table" in body["detail"]
    assert body["dashboard_url"].endswith("/dashboard/health")
    assert "FAILING: job:nightly-export" in body["text"]
    mails = [m for m in watched.smtp.messages if JOB in str(m["Subject"])]
    assert len(mails) == 1
    assert mails[0]["To"] == OPERATOR
    assert str(mails[0]["Subject"]) == "[avisa] FAILING: job:nightly-export"
    assert "no_such_table" in mails[0].get_content()

    # The same failure seen again, and a new one within the period: nothing more.
    watched.clock.advance(timedelta(minutes=5))
    check_alerts(watched.services)
    watched.run("nightly-export")
    check_alerts(watched.services)
    assert watched.hook.kinds().count((JOB, "failure")) == 1

    watched.set_sql("nightly-export", "SELECT 1")
    assert watched.run("nightly-export").status == "succeeded"
    check_alerts(watched.services)
    assert watched.hook.kinds().count((JOB, "recovery")) == 1
    recovered = [
        m for m in watched.smtp.messages if "RECOVERED: job:nightly-export" in str(m["Subject"])
    ]
    assert len(recovered) == 1
    assert _state(watched, JOB).state == "ok"


def test_failure_within_the_period_after_a_recovery_waits_for_the_period(
    watched: Watched,
) -> None:
    """A flapping job costs at most one failure alert (and its recovery) per period."""
    watched.run("nightly-export")
    check_alerts(watched.services)
    watched.set_sql("nightly-export", "SELECT 1")
    watched.run("nightly-export")
    check_alerts(watched.services)
    watched.set_sql("nightly-export", "SELECT * FROM still_missing")
    watched.clock.advance(timedelta(minutes=10))
    watched.run("nightly-export")
    check_alerts(watched.services)
    assert [k for s, k in watched.hook.kinds() if s == JOB] == ["failure", "recovery"]
    assert _state(watched, JOB).state == "failing"

    watched.clock.advance(timedelta(hours=1))
    watched.run("nightly-export")
    check_alerts(watched.services)
    assert [k for s, k in watched.hook.kinds() if s == JOB] == ["failure", "recovery", "failure"]


def test_failed_execution_alerts(watched: Watched) -> None:
    """A failed function execution (cron_execution_logs) is its own subject."""
    record_execution(
        watched.services.engine,
        job_name="process-appointment-reminders-hourly",
        function_name="process-reminders",
        status="failed",
        message="process-reminders failed (RuntimeError)",
        details={"error_class": "RuntimeError"},
        at=watched.clock.now(),
    )
    check_alerts(watched.services)
    assert ("execution:process-appointment-reminders-hourly", "failure") in watched.hook.kinds()


def test_red_verify_alerts_and_recovers(watched: Watched) -> None:
    """`verify` turning red is announced, and green again when it holds."""
    check_alerts(watched.services)
    # A fresh install: no scheduler heartbeat yet, so verify is red.
    assert ("verify", "failure") in watched.hook.kinds()
    assert "scheduler heartbeat" in _state(watched, "verify").detail
    build_scheduler(watched.services, kind="test").beat()
    check_alerts(watched.services)
    assert ("verify", "recovery") in watched.hook.kinds()


def test_undelivered_alert_is_recorded_without_the_webhook_url(watched: Watched) -> None:
    """A webhook answering 500 leaves its error on the subject; its URL (a token) nowhere."""
    watched.hook.status = 500
    watched.run("nightly-export")
    report = check_alerts(watched.services)
    assert any("webhook: answered HTTP 500" in e for e in report.errors)
    state = _state(watched, JOB)
    assert "HTTP 500" in (state.last_error or "")
    assert "T0KEN-canary" not in (state.last_error or "")
    assert "T0KEN-canary" not in report.message()
    # The email still went out.
    assert any(JOB in str(m["Subject"]) for m in watched.smtp.messages)


def test_two_checkers_racing_send_one_alert(watched: Watched) -> None:
    """A transition is written by one process only: the second write sees a new version."""
    now = watched.clock.now()
    seen = Observation("job:raced", True, "run 1 failed", "run:1")
    first = decide(None, seen, now, timedelta(hours=1))
    assert first.values is not None
    engine = watched.services.engine
    assert store.apply(engine, "job:raced", None, first.values, now)
    assert not store.apply(engine, "job:raced", None, first.values, now)
    stored = store.load_states(engine)["job:raced"]
    recovered = decide(stored, Observation("job:raced", False, "ok"), now, timedelta(hours=1))
    assert recovered.values is not None
    assert store.apply(engine, "job:raced", stored, recovered.values, now)
    assert not store.apply(engine, "job:raced", stored, recovered.values, now)


def test_check_alerts_job_runs_from_the_scheduler(
    watched: Watched, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`avisa init` schedules check-alerts every minute; its run reads the process's
    settings (environment) and delivers through them."""
    settings = watched.services.settings
    monkeypatch.setenv("AVISA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVISA_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("AVISA_ALERT_EMAIL", OPERATOR)
    monkeypatch.setenv("AVISA_SMTP_URL", str(settings.smtp_url))
    monkeypatch.setenv("AVISA_EMAIL_FROM", "avisa@example.com")
    job = cron_jobs(watched.services).get(ALERTS_JOB_NAME)
    assert job.schedule == "* * * * *"
    assert job.active
    watched.run("nightly-export")
    run = watched.run(ALERTS_JOB_NAME)
    assert run.status == "succeeded", run.return_message
    assert "FAILING: job:nightly-export" in (run.return_message or "")
    assert (JOB, "failure") in watched.hook.kinds()
    assert any(JOB in str(m["Subject"]) for m in watched.smtp.messages)


def test_deleted_job_forgets_its_alert_state(watched: Watched) -> None:
    watched.run("nightly-export")
    check_alerts(watched.services)
    cron_jobs(watched.services).unschedule("nightly-export")
    check_alerts(watched.services)
    assert JOB not in store.load_states(watched.services.engine)


def test_no_channel_configured_still_records_the_alert(watched: Watched) -> None:
    """Without email or webhook, the alert is recorded for the dashboard and the log."""
    watched.services.vault.with_actor("cli").delete_secret("ALERT_WEBHOOK_URL")
    settings = watched.services.settings
    watched.services.settings = settings.model_copy(update={"alert_email": None})
    watched.run("nightly-export")
    report = check_alerts(watched.services)
    assert report.errors == []
    assert _state(watched, JOB).last_alert_kind == "failure"
    assert watched.hook.bodies == []


def test_alert_email_without_smtp_is_reported(watched: Watched) -> None:
    """Alert email without an SMTP server is an error the run shows; the webhook still
    gets the alert."""
    settings = watched.services.settings
    watched.services.settings = settings.model_copy(update={"smtp_url": None})
    watched.run("nightly-export")
    report = check_alerts(watched.services)
    assert any("AVISA_SMTP_URL" in error for error in report.errors)
    assert (JOB, "failure") in watched.hook.kinds()  # the webhook still got it
    assert _state(watched, JOB).last_alert_kind == "failure"
