"""The dashboard in a real browser (Playwright driving Debian's Chromium, headless) against
`avisa serve` running as its own process on a real port, on SQLite.

One browser and one server for the module. A screenshot of each page is saved under the
test's temporary folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from avisa.config import load_settings
from avisa.cron.commands import sql_command
from avisa.cron.runtime import cron_jobs
from avisa.demo import create_demo
from avisa.services import Services, build_services
from avisa.setup import initialise
from tests.alerts.receiver import Received, webhook_receiver
from tests.dashboard.browser import CHROMIUM_ARGS, require_chromium
from tests.support.net import free_port

pytestmark = pytest.mark.slow
CANARY = "browser-canary-c0ffee42"
#: Waiting for the server's scheduler to run something: generous, never asserted on.
PATIENCE = 30.0


@dataclass
class Served:
    url: str
    services: Services
    hook: Received
    secrets: list[str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`avisa serve` in a subprocess on an initialised installation with a broken job."""
    root = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {
        "AVISA_DATA_DIR": str(root / "data"),
        "AVISA_DATABASE_URL": f"sqlite:///{root / 'data' / 'avisa.db'}",
        "AVISA_PORT": str(port),
        "AVISA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AVISA_LOG_FORMAT": "json",
    }
    settings = load_settings(
        _env_file=None,
        data_dir=root / "data",
        database_url=env["AVISA_DATABASE_URL"],
        public_url=env["AVISA_PUBLIC_URL"],
    )
    services = build_services(settings)
    initialise(services)
    with webhook_receiver() as (hook, hook_url):
        vault = services.vault.with_actor("cli")
        vault.create_secret(hook_url, "ALERT_WEBHOOK_URL")
        vault.create_secret(CANARY, "PARTNER_TOKEN")
        cron_jobs(services).schedule(
            "broken-export", "0 2 * * *", sql_command("SELECT * FROM no_such_table")
        )
        secrets = [
            CANARY,
            hook_url,
            vault.read_internal("SERVICE_ROLE_KEY"),
            vault.read_internal("ANON_KEY"),
            vault.read_internal("JWT_SECRET"),
        ]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")} | env
        with (root / "serve.log").open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "avisa", "serve"],
                env=full_env,
                stdout=log,
                stderr=log,
                cwd=root,
            )
            try:
                _wait_healthy(env["AVISA_PUBLIC_URL"], process, root / "serve.log")
                yield Served(env["AVISA_PUBLIC_URL"], services, hook, secrets)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                services.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail(f"avisa serve did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def _login(page: Page, served: Served) -> None:
    page.goto(f"{served.url}/dashboard/jobs")
    page.get_by_label("Service key or admin password").fill(served.secrets[2])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()


def _no_secret(page: Page, served: Served) -> None:
    html = page.content()
    for value in served.secrets:
        assert value not in html, f"a secret value appears in {page.url}"


def _run_now(page: Page, job: str) -> None:
    page.goto(page.url.split("/dashboard")[0] + "/dashboard/jobs")
    page.locator(f'tr[data-job="{job}"]').get_by_role("button", name="Run now").click()
    expect(page.locator(".flash")).to_contain_text(f"of {job}")


def _wait_for_run(page: Page, job: str, status: str) -> None:
    """Reload the runs page of `job` until a run with `status` shows up."""
    base = page.url.split("/dashboard")[0]
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        page.goto(f"{base}/dashboard/runs?job={job}")
        if page.locator(f"tr.run.{status}").count():
            return
        time.sleep(0.3)
    pytest.fail(f"no {status} run of {job} appeared on the runs page")


def test_wrong_login_is_refused(page: Page, served: Served, tmp_path: Path) -> None:
    page.goto(f"{served.url}/dashboard/jobs")
    expect(page).to_have_url(f"{served.url}/dashboard/login?next=/dashboard/jobs")
    page.get_by_label("Service key or admin password").fill("not-the-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong key or password.")
    page.screenshot(path=tmp_path / "login-refused.png", full_page=True)
    page.goto(f"{served.url}/dashboard/jobs")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_operator_flow(page: Page, served: Served, tmp_path: Path) -> None:
    """Log in, see the default jobs, run one now and see its run, toggle a job, see a
    failure and its alert, and every page without a secret value in it."""
    _login(page, served)
    for name in ("process-appointment-reminders-hourly", "appointment-status-updater"):
        expect(page.locator(f'tr[data-job="{name}"]')).to_be_visible()
    expect(page.locator('tr[data-job="appointment-status-updater"]')).to_contain_text(
        "Every 30 minutes"
    )
    page.screenshot(path=tmp_path / "jobs.png", full_page=True)

    _run_now(page, "appointment-status-updater")
    _wait_for_run(page, "appointment-status-updater", "succeeded")
    expect(page.locator("tr.run.succeeded").first).to_contain_text("200")
    page.screenshot(path=tmp_path / "runs.png", full_page=True)

    page.goto(f"{served.url}/dashboard/jobs")
    row = page.locator('tr[data-job="process-appointment-reminders-hourly"]')
    row.get_by_role("button", name="active").click()
    expect(page.locator(".flash")).to_have_text("deactivated process-appointment-reminders-hourly")
    expect(row.locator("button.toggle")).to_have_text("inactive")
    row.locator("button.toggle").click()
    expect(row.locator("button.toggle")).to_have_text("active")

    _run_now(page, "broken-export")
    _wait_for_run(page, "broken-export", "failed")
    expect(page.locator("tr.run.failed").first).to_contain_text("no_such_table")
    _run_now(page, "check-alerts")
    deadline = time.monotonic() + PATIENCE
    while ("job:broken-export", "failure") not in served.hook.kinds():
        assert time.monotonic() < deadline, "the failure alert never reached the webhook"
        time.sleep(0.2)
    page.goto(f"{served.url}/dashboard/health")
    alert = page.locator("tr.alert.failing", has_text="job:broken-export")
    expect(alert).to_contain_text("failure")
    expect(page.locator("li.check").first).to_be_visible()
    page.screenshot(path=tmp_path / "health.png", full_page=True)

    report = create_demo(served.services)
    for name in ("logs", "secrets", "reminders"):
        page.goto(f"{served.url}/dashboard/{name}")
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
        _no_secret(page, served)
    expect(page.get_by_text("Lucía Fernández").first).to_be_visible()
    page.goto(f"{served.url}/dashboard/appointments/{report.appointments[0]}")
    expect(page.locator("ol.timeline")).to_contain_text("booked")
    page.screenshot(path=tmp_path / "appointment.png", full_page=True)
    for name in ("jobs", "runs", "health"):
        page.goto(f"{served.url}/dashboard/{name}")
        _no_secret(page, served)
    page.goto(f"{served.url}/dashboard/logs")
    expect(page.locator("#failed-24h")).to_be_visible()


def test_forms_without_csrf_tokens_are_refused(page: Page, served: Served, tmp_path: Path) -> None:
    _login(page, served)
    form = page.locator('tr[data-job="broken-export"] form[action$="/jobs/run"]')
    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    form.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("heading", name="Form refused")).to_be_visible()
    page.screenshot(path=tmp_path / "csrf-refused.png", full_page=True)
    answer = page.request.post(
        f"{served.url}/dashboard/jobs/active", form={"job": "broken-export", "active": "0"}
    )
    assert answer.status == 403
    assert cron_jobs(served.services).get("broken-export").active


def test_usable_on_a_phone(browser: Browser, served: Served, tmp_path: Path) -> None:
    """At phone width the page never scrolls sideways; wide tables scroll in their box."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        page = context.new_page()
        _login(page, served)
        for name in ("jobs", "reminders"):
            page.goto(f"{served.url}/dashboard/{name}")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px on a phone"
            page.screenshot(path=tmp_path / f"phone-{name}.png", full_page=True)
    finally:
        context.close()
