"""`avisa diagnose` for functions and jobs: the public URL answers, the jobs' secrets exist."""

from __future__ import annotations

from typing import Any

from avisa.checks import Check
from avisa.diagnose import diagnose
from avisa.services import Services, build_services
from avisa.vault.keys import SERVICE_ROLE_KEY
from tests.functions.conftest import Live


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def _pointed_at(live: Live, make_settings: Any) -> Services:
    return build_services(
        make_settings(public_url=live.url), engine=live.services.engine, clock=live.services.clock
    )


def test_everything_in_place(live: Live, make_settings: Any) -> None:
    checks = _by_name(diagnose(_pointed_at(live, make_settings)))
    assert checks["public URL"].detail == f"{live.url}/healthz answers"
    assert checks["job secrets"].verdict == "ok"
    assert [c for c in checks.values() if c.failed] == []


def test_a_url_that_is_not_avisa(live: Live, make_settings: Any) -> None:
    services = build_services(
        make_settings(public_url=f"{live.url}/elsewhere"),
        engine=live.services.engine,
        clock=live.services.clock,
    )
    check = _by_name(diagnose(services))["public URL"]
    assert check.detail == f"{live.url}/elsewhere/healthz answered HTTP 404"


def test_a_renamed_secret_breaks_the_jobs_that_use_it(live: Live, make_settings: Any) -> None:
    live.services.vault.update_secret(SERVICE_ROLE_KEY, new_name="OLD_SERVICE_KEY")
    checks = _by_name(diagnose(_pointed_at(live, make_settings)))
    broken = checks["job process-appointment-reminders-hourly"]
    assert broken.failed
    assert broken.detail == "uses vault secret SERVICE_ROLE_KEY, which does not exist"
    assert checks["job appointment-status-updater"].failed
