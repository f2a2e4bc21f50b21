"""`avisa verify`: passes on a working installation, then fails for each real failure mode of
the original system, naming the check and its fix."""

from __future__ import annotations

from datetime import timedelta

import httpx

from avisa.checks import Check
from avisa.cron.jobs import JobChanges
from avisa.cron.runtime import cron_jobs
from avisa.vault.keys import SERVICE_ROLE_KEY
from avisa.vault.tokens import issue_token
from avisa.verify import verify
from tests.functions.conftest import Live

REMINDERS = "process-appointment-reminders-hourly"
UPDATER = "appointment-status-updater"


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def _working(live: Live) -> None:
    """Both default jobs ran through the scheduler and a scheduler is alive."""
    assert live.run_job(REMINDERS).status == "succeeded"
    assert live.run_job(UPDATER).status == "succeeded"
    live.beat()


def test_a_working_installation_passes(live: Live) -> None:
    _working(live)
    checks = _by_name(verify(live.services))
    assert [c for c in checks.values() if c.failed] == []
    assert checks["service key"].verdict == "ok"
    assert checks[f"runs of {REMINDERS}"].detail.startswith("last run succeeded at")
    assert checks["execution logs"].detail == "the last 2 succeeded"
    assert checks["scheduler heartbeat"].verdict == "ok"
    assert checks["execution logs"].verdict == "ok"


def test_a_deleted_secret_fails(live: Live) -> None:
    _working(live)
    live.services.vault.delete_secret(SERVICE_ROLE_KEY)
    checks = _by_name(verify(live.services))
    assert checks["service key"].failed
    assert "is deleted" in checks["service key"].detail
    assert checks[f"job {REMINDERS}"].detail.startswith(
        "its command uses vault secret SERVICE_ROLE_KEY, which does not exist"
    )
    run = live.run_job(REMINDERS)
    assert run.status == "failed"
    assert "SERVICE_ROLE_KEY" in (run.return_message or "")


def test_a_renamed_secret_fails(live: Live) -> None:
    _working(live)
    live.services.vault.update_secret(SERVICE_ROLE_KEY, new_name="SERVICE_KEY_OLD")
    checks = _by_name(verify(live.services))
    assert checks["service key"].failed
    assert checks[f"job {UPDATER}"].failed


def test_a_wrong_key_makes_the_run_fail_with_401(live: Live) -> None:
    _working(live)
    now = live.services.clock.now()
    forged = issue_token("a-signing-secret-nobody-uses-0123456789abcdef", "service_role", now)
    live.services.vault.update_secret(SERVICE_ROLE_KEY, value=forged)
    run = live.run_job(REMINDERS)
    assert (run.status, run.http_status) == ("failed", 401)
    checks = _by_name(verify(live.services))
    assert checks["service key"].failed
    assert checks[f"runs of {REMINDERS}"].detail.startswith("last run failed (HTTP 401)")


def test_a_disabled_job_fails(live: Live) -> None:
    _working(live)
    cron_jobs(live.services).alter(UPDATER, JobChanges(active=False))
    check = _by_name(verify(live.services))[f"job {UPDATER}"]
    assert (check.verdict, check.detail) == ("fail", "inactive")
    assert check.fix == f"avisa cron alter {UPDATER} --active"


def test_a_stopped_scheduler_fails(live: Live) -> None:
    _working(live)
    live.services.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    check = _by_name(verify(live.services))["scheduler heartbeat"]
    assert check.failed
    assert check.detail == "last heartbeat 300 s ago: no scheduler is running"


def test_no_runs_for_a_day_fails_once_the_installation_is_old(live: Live) -> None:
    _working(live)
    live.services.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]
    live.beat()
    checks = _by_name(verify(live.services))
    assert checks[f"runs of {REMINDERS}"].detail == "no finished run in the last 24 h"
    assert checks["execution logs"].verdict == "warn"


def test_failed_executions_fail(live: Live, service_key: str) -> None:
    _working(live)
    httpx.post(
        f"{live.url}/functions/v1/explode",
        headers={"Authorization": f"Bearer {service_key}", "X-Avisa-Job": "custom"},
    )
    check = _by_name(verify(live.services))["execution logs"]
    assert check.failed
    assert check.detail == "1 of the last 3 failed; latest: custom: explode failed (RuntimeError)"


def test_rotating_the_service_key_takes_effect_without_restart(live: Live) -> None:
    """A new SERVICE_ROLE_KEY in the vault is used by the next run; nothing restarts."""
    _working(live)
    vault = live.services.vault
    fresh = issue_token(vault.get_secret("JWT_SECRET"), "service_role", live.services.clock.now())
    vault.update_secret(SERVICE_ROLE_KEY, value=fresh)
    run = live.run_job(REMINDERS)
    assert run.status == "succeeded"
