"""`GET /metrics`: Prometheus text, computed when scraped, from the database.

Nothing in the scheduler, delivery or vault is instrumented: every figure but the HTTP
counters is read from the tables they already write, so all processes (any number of
workers) report the same truth and nothing is lost when one restarts. The database
figures cover a recent window (`WINDOW`, 24 h) and are gauges: history is purged, so
all-time counters would go down. Each histogram is rebuilt over that window from at most
`SAMPLE` recent rows. A scrape's results are reused for `CACHE_SECONDS`, so a scraper
hammering the endpoint cannot turn into database load.

Public by default (as Prometheus expects; no secret, recipient or message text appears);
`AVISA_METRICS_PUBLIC=false` requires the service key, which Prometheus sends with
`authorization: {credentials: …}`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from avisa.db.tables import (
    alert_state,
    cron_job,
    cron_job_run_details,
    cron_worker,
    notifications,
    vault_audit,
)
from avisa.services import Services
from avisa.web.auth import require_service_role
from avisa.web.dashboard.sqltime import seconds_between

router = APIRouter(tags=["health"])

WINDOW = timedelta(hours=24)
SAMPLE = 10_000
CACHE_SECONDS = 5.0
HEARTBEAT_FRESH = timedelta(seconds=60)
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 60.0)
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

runs = cron_job_run_details
_n = notifications.c


class DatabaseCollector(Collector):
    """Scheduler, delivery, vault and alert figures, read from the database at scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def __repr__(self) -> str:
        return "DatabaseCollector()"

    def collect(self) -> Iterable[Metric]:
        now = self.services.clock.monotonic()
        with self._lock:
            if self._cached is None or now - self._cached[0] >= CACHE_SECONDS:
                self._cached = (now, self._read())
            return list(self._cached[1])

    def _read(self) -> list[Metric]:
        up = GaugeMetricFamily("avisa_database_up", "Whether the last scrape read the database.")
        try:
            found = self._families()
        except SQLAlchemyError:
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, *found]

    def _families(self) -> list[Metric]:
        engine = self.services.engine
        now = self.services.clock.now()
        since = now - WINDOW
        with engine.connect() as conn:
            run_counts = conn.execute(
                sa.select(cron_job.c.jobname, runs.c.status, sa.func.count())
                .join(cron_job, cron_job.c.jobid == runs.c.jobid)
                .where(runs.c.scheduled_for >= since)
                .group_by(cron_job.c.jobname, runs.c.status)
            ).all()
            durations = conn.execute(
                sa.select(
                    cron_job.c.jobname, seconds_between(engine, runs.c.start_time, runs.c.end_time)
                )
                .join(cron_job, cron_job.c.jobid == runs.c.jobid)
                .where(runs.c.scheduled_for >= since, runs.c.status.in_(["succeeded", "failed"]))
                .order_by(runs.c.runid.desc())
                .limit(SAMPLE)
            ).all()
            lateness = conn.execute(
                sa.select(seconds_between(engine, runs.c.scheduled_for, runs.c.start_time))
                .where(
                    runs.c.scheduled_for >= since,
                    runs.c.origin == "schedule",
                    runs.c.start_time.is_not(None),
                )
                .order_by(runs.c.runid.desc())
                .limit(SAMPLE)
            ).all()
            active = conn.execute(sa.select(cron_job.c.jobname, cron_job.c.active)).all()
            note_counts = conn.execute(
                sa.select(_n.channel, _n.status, sa.func.count())
                .where(_n.due_at >= since)
                .group_by(_n.channel, _n.status)
            ).all()
            backlog = conn.execute(
                sa.select(_n.channel, sa.func.count())
                .where(_n.status == "pending", _n.due_at <= now)
                .group_by(_n.channel)
            ).all()
            latency = conn.execute(
                sa.select(_n.channel, seconds_between(engine, _n.due_at, _n.sent_at))
                .where(_n.status == "sent", _n.due_at >= since - WINDOW, _n.sent_at >= since)
                .limit(SAMPLE)
            ).all()
            vault_ops = conn.execute(
                sa.select(vault_audit.c.action, vault_audit.c.success, sa.func.count())
                .where(vault_audit.c.at >= since)
                .group_by(vault_audit.c.action, vault_audit.c.success)
            ).all()
            beat = conn.execute(sa.select(sa.func.max(cron_worker.c.heartbeat_at))).scalar()
            alive = conn.execute(
                sa.select(sa.func.count()).where(
                    cron_worker.c.heartbeat_at >= now - HEARTBEAT_FRESH
                )
            ).scalar_one()
            alerts = conn.execute(sa.select(alert_state.c.subject, alert_state.c.state)).all()
        families: list[Metric] = [
            _gauge(
                "avisa_cron_runs_last_24h",
                "Runs scheduled in the last 24 h, by job and status.",
                ["job", "status"],
                run_counts,
            ),
            _histogram(
                "avisa_cron_run_duration_seconds",
                "Duration of runs finished in the last 24 h, by job.",
                ["job"],
                durations,
                DURATION_BUCKETS,
            ),
            _histogram(
                "avisa_cron_tick_lateness_seconds",
                "Start time minus scheduled time of scheduled runs in the last 24 h.",
                [],
                lateness,
                LATENESS_BUCKETS,
            ),
            _gauge(
                "avisa_cron_job_active",
                "1 if the job is active.",
                ["job"],
                [(name, int(flag)) for name, flag in active],
            ),
            _gauge(
                "avisa_notifications",
                "Notifications due in the last 24 h or later, by channel and status.",
                ["channel", "status"],
                note_counts,
            ),
            _gauge(
                "avisa_notifications_overdue",
                "Pending notifications whose due time has passed, by channel.",
                ["channel"],
                backlog,
            ),
            _histogram(
                "avisa_delivery_latency_seconds",
                "Sent time minus due time of notifications sent in the last 24 h, by channel.",
                ["channel"],
                latency,
                LATENCY_BUCKETS,
            ),
            _gauge(
                "avisa_vault_operations_last_24h",
                "Vault operations in the last 24 h, by action and outcome.",
                ["action", "success"],
                [(a, str(bool(s)).lower(), n) for a, s, n in vault_ops],
            ),
            _gauge(
                "avisa_scheduler_workers",
                "Schedulers with a heartbeat in the last minute.",
                [],
                [(alive,)],
            ),
            _gauge(
                "avisa_alert_failing",
                "1 while an alert subject is failing.",
                ["subject"],
                [(s, int(state == "failing")) for s, state in alerts],
            ),
        ]
        if beat is not None:
            age = (now - beat).total_seconds()
            families.append(
                _gauge(
                    "avisa_scheduler_heartbeat_age_seconds",
                    "Seconds since the freshest scheduler heartbeat.",
                    [],
                    [(age,)],
                )
            )
        return families


def _gauge(name: str, doc: str, labels: list[str], rows: Iterable[Sequence[Any]]) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels)
    for row in rows:
        family.add_metric([str(v) for v in row[:-1]], float(row[-1]))
    return family


def _histogram(
    name: str, doc: str, labels: list[str], rows: Iterable[Sequence[Any]], buckets: Sequence[float]
) -> Metric:
    """Bucket (label…, seconds) rows into a Prometheus histogram per label set."""
    groups: dict[tuple[str, ...], list[float]] = {}
    for row in rows:
        if row[-1] is not None:
            groups.setdefault(tuple(str(v) for v in row[:-1]), []).append(max(0.0, float(row[-1])))
    family = HistogramMetricFamily(name, doc, labels=labels)
    for key, values in sorted(groups.items()):
        cumulative = [
            (str(bound), float(sum(1 for v in values if v <= bound))) for bound in buckets
        ]
        cumulative.append(("+Inf", float(len(values))))
        family.add_metric(list(key), cumulative, sum_value=sum(values))
    return family


def metrics_registry(services: Services) -> CollectorRegistry:
    """A fresh registry for one app: the database collector (HTTP counters join it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(services))
    return registry


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of avisa's figures (see the module's documentation)."""
    services: Services = request.app.state.services
    if not services.settings.metrics_public:
        require_service_role(request, services)
    registry: CollectorRegistry = request.app.state.metrics_registry
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
