"""`/metrics`: Prometheus text computed from the database at scrape time, plus HTTP counters."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.cron.runtime import build_scheduler, cron_jobs
from avisa.db.tables import cron_job_run_details, notifications
from avisa.demo import create_demo
from avisa.services import Services, build_services
from avisa.setup import initialise
from avisa.web import create_app
from tests.dashboard.conftest import Site
from tests.support.server import serve_app


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value}; parsing also checks the format."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_from_the_database(site: Site, clock: FrozenClock) -> None:
    services = site.services
    job = cron_jobs(services).get("appointment-status-updater")
    with services.engine.begin() as conn:
        # A scheduled tick that started 4 ms late and ran for 1.5 s.
        tick = clock.now() - timedelta(minutes=30)
        conn.execute(
            sa.insert(cron_job_run_details).values(
                jobid=job.jobid,
                scheduled_for=tick,
                origin="schedule",
                status="succeeded",
                start_time=tick + timedelta(milliseconds=4),
                end_time=tick + timedelta(milliseconds=1504),
                http_status=200,
            )
        )
    create_demo(services)
    with services.engine.begin() as conn:
        first = conn.execute(
            sa.select(notifications.c.id, notifications.c.due_at)
            .where(notifications.c.status == "pending", notifications.c.channel == "email")
            .order_by(notifications.c.id)
        ).first()
        assert first is not None
        conn.execute(
            sa.update(notifications)
            .where(notifications.c.id == first.id)
            .values(status="sent", sent_at=first.due_at + timedelta(seconds=30))
        )
    clock.advance(timedelta(hours=2))  # the sent one is now in the past, and so are others
    with httpx.Client(base_url=site.url) as client:
        assert client.get("/healthz").status_code == 200
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    name = "appointment-status-updater"
    assert samples[("avisa_database_up", ())] == 1
    assert samples[("avisa_cron_runs_last_24h", (("job", name), ("status", "succeeded")))] == 1
    assert samples[("avisa_cron_run_duration_seconds_count", (("job", name),))] == 1
    assert samples[("avisa_cron_run_duration_seconds_bucket", (("job", name), ("le", "1.0")))] == 0
    assert samples[("avisa_cron_run_duration_seconds_bucket", (("job", name), ("le", "5.0")))] == 1
    assert samples[("avisa_cron_tick_lateness_seconds_bucket", (("le", "0.005"),))] == 1
    assert samples[("avisa_cron_job_active", (("job", "check-alerts"),))] == 1
    assert samples[("avisa_notifications", (("channel", "email"), ("status", "sent")))] == 1
    assert samples[("avisa_notifications_overdue", (("channel", "email"),))] >= 1
    assert samples[("avisa_delivery_latency_seconds_count", (("channel", "email"),))] == 1
    latency = samples[("avisa_delivery_latency_seconds_sum", (("channel", "email"),))]
    assert latency == pytest.approx(30, abs=0.01)  # SQLite's julianday: millisecond precision
    assert (
        samples[("avisa_vault_operations_last_24h", (("action", "create"), ("success", "true")))]
        >= 3
    )
    http = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("avisa_http_requests_total", http)] == 1
    # Routes are templates, so arbitrary paths cannot multiply label sets.
    with httpx.Client(base_url=site.url) as client:
        client.get("/api/v1/cron/jobs/one")
        client.get("/api/v1/cron/jobs/two")
        client.get("/no/such/path")
        later = _samples(client.get("/metrics").text)
    template = (("method", "GET"), ("route", "/api/v1/cron/jobs/{name}"), ("status", "401"))
    assert later[("avisa_http_requests_total", template)] == 2
    assert (
        later[
            (
                "avisa_http_requests_total",
                (("method", "GET"), ("route", "unmatched"), ("status", "404")),
            )
        ]
        == 1
    )


def test_scheduler_and_alert_gauges(site: Site) -> None:
    services = site.services
    asyncio.run(
        build_scheduler(services, kind="test").run_now(cron_jobs(services).get("check-alerts"))
    )
    build_scheduler(services, kind="test").beat()  # a live worker (run_now unregisters its own)
    with httpx.Client(base_url=site.url) as client:
        samples = _samples(client.get("/metrics").text)
    assert samples[("avisa_scheduler_workers", ())] >= 1
    assert ("avisa_alert_failing", (("subject", "verify"),)) in samples


def test_metrics_can_require_the_service_key(
    make_settings: Any, migrated_engine: Engine, clock: FrozenClock
) -> None:
    """With AVISA_METRICS_PUBLIC=false a scrape needs the service key."""
    services: Services = build_services(
        make_settings(metrics_public=False), engine=migrated_engine, clock=clock
    )
    initialise(services)
    key = services.service_keys.keys()["service_role"]
    with serve_app(create_app(services)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/metrics").status_code == 401
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200
        assert "avisa_cron_job_active" in answer.text
