"""The dashboard over a real socket: login, sessions, CSRF, the forms, and no secret in
any page. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files

import sqlalchemy as sa

from avisa.clock import FrozenClock
from avisa.cron.runtime import cron_jobs
from avisa.db.tables import cron_job_run_details
from avisa.demo import create_demo
from avisa.web.dashboard.passwords import set_admin_password
from avisa.web.dashboard.session import COOKIE
from tests.dashboard.conftest import Site, csrf_of, web_only
from tests.support.cli import invoke

PAGES = ("jobs", "runs", "logs", "secrets", "reminders", "health")
ADMIN_PASSWORD = "correct horse battery staple"


def _runs(site: Site) -> int:
    with site.services.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(cron_job_run_details)).scalar_one()
        )


@web_only
def test_pages_need_a_login(site: Site) -> None:
    """Every page sends a visitor to the login form, remembering where they were going."""
    client = site.client()
    for name in PAGES:
        answer = client.get(f"/dashboard/{name}")
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/dashboard/login?next=/dashboard/{name}"


def test_login_with_the_service_key_sets_a_strict_httponly_cookie(
    site: Site, service_key: str
) -> None:
    client = site.client()
    answer = site.submit_login(client, service_key)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard/jobs"
    cookie = answer.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/dashboard"):
        assert attribute.lower() in cookie.lower()
    assert service_key not in cookie
    jobs = client.get("/dashboard/jobs")
    assert jobs.status_code == 200
    for name in (
        "process-appointment-reminders-hourly",
        "appointment-status-updater",
        "check-alerts",
    ):
        assert name in jobs.text
    assert "Every hour" in jobs.text or "every hour" in jobs.text.lower()


@web_only
def test_wrong_logins_are_refused(site: Site, anon_key: str) -> None:
    """A wrong password, a forged key and the anon key (valid, wrong role) all get 401."""
    for credential in ("not the password", anon_key, anon_key[:-4] + "AAAA"):
        client = site.client()
        answer = site.submit_login(client, credential)
        assert answer.status_code == 401
        assert "Wrong key or password." in answer.text
        assert client.get("/dashboard/jobs").status_code == 303


@web_only
def test_repeated_wrong_logins_are_throttled(site: Site) -> None:
    client = site.client()
    codes = [site.submit_login(client, f"guess {i}").status_code for i in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


@web_only
def test_admin_password_set_by_the_cli_logs_in(site: Site) -> None:
    """`avisa dashboard password` stores a hash; that password then logs in."""
    settings = site.services.settings
    env = {
        "AVISA_DATA_DIR": str(settings.data_dir),
        "AVISA_DATABASE_URL": str(settings.database_url),
    }
    assert invoke("dashboard", "password", env=env, stdin="short\n").returncode == 1
    result = invoke("dashboard", "password", env=env, stdin=f"{ADMIN_PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "admin password set"
    stored = site.services.vault.read_internal("DASHBOARD_ADMIN_PASSWORD_HASH")
    assert stored.startswith("scrypt$")
    assert ADMIN_PASSWORD not in stored
    client = site.login(ADMIN_PASSWORD)
    assert client.get("/dashboard/health").status_code == 200
    assert site.submit_login(site.client(), ADMIN_PASSWORD + "x").status_code == 401


@web_only
def test_changing_the_password_ends_sessions(site: Site, clock: FrozenClock) -> None:
    set_admin_password(site.services.vault, ADMIN_PASSWORD)
    client = site.login(ADMIN_PASSWORD)
    set_admin_password(site.services.vault, ADMIN_PASSWORD + " two")
    clock.advance(timedelta(minutes=1))  # past the signing key's cache
    assert client.get("/dashboard/jobs").status_code == 303


@web_only
def test_sessions_expire(site: Site, service_key: str, clock: FrozenClock) -> None:
    client = site.login(service_key)
    assert client.get("/dashboard/jobs").status_code == 200
    clock.advance(timedelta(hours=12, seconds=1))
    assert client.get("/dashboard/jobs").status_code == 303


def test_forms_without_the_csrf_token_are_refused(site: Site, service_key: str) -> None:
    """403 for a missing, wrong or other session's token; nothing is done."""
    client = site.login(service_key)
    other = site.login(service_key)
    foreign = csrf_of(other.get("/dashboard/jobs").text)
    before = _runs(site)
    for data in (
        {"job": "check-alerts"},
        {"job": "check-alerts", "csrf_token": ""},
        {"job": "check-alerts", "csrf_token": "forged"},
        {"job": "check-alerts", "csrf_token": foreign},
    ):
        answer = client.post("/dashboard/jobs/run", data=data)
        assert answer.status_code == 403
        assert "security token" in answer.text
    assert _runs(site) == before
    fresh = site.client()
    fresh.get("/dashboard/login")
    refused = fresh.post("/dashboard/login", data={"credential": service_key})
    assert refused.status_code == 403
    assert site.client().post("/dashboard/logout").status_code == 403


@web_only
def test_forged_cookie_is_not_a_session(site: Site, service_key: str) -> None:
    client = site.login(service_key)
    value = client.cookies[COOKIE]
    payload, _, signature = value.rpartition(".")
    client.cookies.set(COOKIE, payload + "x." + signature, path="/dashboard")
    assert client.get("/dashboard/jobs").status_code == 303


def test_run_now_toggle_and_reschedule_follow_the_cli_rules(site: Site, service_key: str) -> None:
    client = site.login(service_key)
    ran = site.post_form(client, "/dashboard/jobs", "/dashboard/jobs/run", job="check-alerts")
    assert ran.status_code == 303
    runs = client.get(ran.headers["location"])
    assert "queued run" in runs.text
    assert "queued run" not in client.get("/dashboard/runs").text  # shown once
    assert _runs(site) == 1

    off = site.post_form(
        client, "/dashboard/jobs", "/dashboard/jobs/active", job="check-alerts", active="0"
    )
    assert off.status_code == 303
    assert not cron_jobs(site.services).get("check-alerts").active
    assert "deactivated check-alerts" in client.get("/dashboard/jobs").text

    bad = site.post_form(
        client,
        "/dashboard/jobs",
        "/dashboard/jobs/schedule",
        job="check-alerts",
        schedule="* *",
        timezone="UTC",
    )
    assert "invalid schedule" in client.get(bad.headers["location"]).text
    site.post_form(
        client,
        "/dashboard/jobs",
        "/dashboard/jobs/schedule",
        job="check-alerts",
        schedule="*/5 * * * *",
        timezone="Europe/Madrid",
    )
    job = cron_jobs(site.services).get("check-alerts")
    assert (job.schedule, job.timezone) == ("*/5 * * * *", "Europe/Madrid")


def test_no_secret_value_in_any_page(site: Site, service_key: str, anon_key: str) -> None:
    """Secrets written through the dashboard, the keys and the JWT secret never appear."""
    canary = "canary-value-7f3a9c"
    client = site.login(service_key)
    created = site.post_form(
        client,
        "/dashboard/secrets",
        "/dashboard/secrets/create",
        name="PARTNER_TOKEN",
        value=canary,
    )
    assert "created secret PARTNER_TOKEN" in client.get(created.headers["location"]).text
    site.post_form(
        client,
        "/dashboard/secrets",
        "/dashboard/secrets/update",
        name="PARTNER_TOKEN",
        value=canary + "-2",
    )
    assert site.services.vault.read_internal("PARTNER_TOKEN") == canary + "-2"
    assert site.services.vault.describe_secret("PARTNER_TOKEN").version == 2
    duplicate = site.post_form(
        client,
        "/dashboard/secrets",
        "/dashboard/secrets/create",
        name="PARTNER_TOKEN",
        value=canary + "-3",
    )
    assert duplicate.status_code == 303
    report = create_demo(site.services)
    values = [
        canary,
        canary + "-2",
        canary + "-3",
        service_key,
        anon_key,
        site.services.vault.read_internal("JWT_SECRET"),
    ]
    paths = [f"/dashboard/{name}" for name in PAGES]
    paths += [f"/dashboard/appointments/{report.appointments[0]}", "/metrics"]
    answers = [(path, client.get(path)) for path in paths]
    answers.append(("login", site.client().get("/dashboard/login")))
    for path, answer in answers:
        assert answer.status_code == 200, path
        for value in values:
            assert value not in answer.text, f"a secret value appears in {path}"
    secrets_page = client.get("/dashboard/secrets").text
    assert "PARTNER_TOKEN" in secrets_page
    assert "SERVICE_ROLE_KEY" in secrets_page


def test_reminders_page_and_timeline_show_the_demo(site: Site, service_key: str) -> None:
    report = create_demo(site.services)
    client = site.login(service_key)
    page = client.get("/dashboard/reminders").text
    for text in ("Lucía Fernández", "Oliver Smith", "reminder_1h", "whatsapp", "<svg"):
        assert text in page
    timeline = client.get(f"/dashboard/appointments/{report.appointments[0]}").text
    assert "booked" in timeline
    assert "reminder_1h by email planned" in timeline
    assert client.get("/dashboard/appointments/999999").status_code == 404


def test_dashboard_is_package_data() -> None:
    """Templates and the stylesheet ship inside the package (no CDN, no source tree)."""
    root = files("avisa.web.dashboard")
    assert root.joinpath("static", "avisa.css").is_file()
    assert root.joinpath("templates", "base.html").read_text().count("http") == 0
