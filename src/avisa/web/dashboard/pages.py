"""The dashboard's pages (GET): jobs, runs, logs, secrets, reminders, health."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from avisa.cron.runtime import cron_jobs
from avisa.errors import NotFoundError
from avisa.functions.logs import list_executions
from avisa.messaging.views import InboundRow, recent_replies
from avisa.verify import verify
from avisa.web.dashboard import queries
from avisa.web.dashboard.charts import stacked_bars
from avisa.web.dashboard.core import PREFIX, page, require_user, services_of
from avisa.web.dashboard.session import Session
from avisa.web.health import vault_state

router = APIRouter(prefix=PREFIX, include_in_schema=False)
UserDep = Annotated[Session, Depends(require_user)]
Filter = Annotated[str | None, Query(max_length=200)]


@router.get("")
async def home(_session: UserDep) -> Response:
    return RedirectResponse(f"{PREFIX}/jobs", status_code=303)


@router.get("/jobs")
async def jobs_page(request: Request, session: UserDep) -> Response:
    services = services_of(request)
    listings = await asyncio.to_thread(cron_jobs(services).list_jobs)
    return page(request, "jobs.html", session, {"title": "Jobs", "jobs": listings})


@router.get("/runs")
async def runs_page(
    request: Request,
    session: UserDep,
    job: Filter = None,
    status: Filter = None,
    hours: Annotated[int, Query(ge=1, le=24 * 31)] = 24,
) -> Response:
    services = services_of(request)
    now = services.clock.now()

    def load() -> dict[str, Any]:
        found = queries.find_runs(
            services.engine, now, job=job or None, status=status or None, hours=hours
        )
        labels, series = queries.runs_per_hour(services.engine, now)
        names = [item.job.jobname for item in cron_jobs(services).list_jobs()]
        return {
            "runs": found,
            "job_names": names,
            "chart": stacked_bars("Runs per hour by status (UTC)", labels, series),
        }

    context = await asyncio.to_thread(load)
    filters = {"job": job or "", "status": status or "", "hours": hours}
    statuses = queries.RUN_STATUSES
    return page(
        request,
        "runs.html",
        session,
        {"title": "Runs", "filters": filters, "statuses": statuses, **context},
    )


@router.get("/logs")
async def logs_page(
    request: Request, session: UserDep, job: Filter = None, failed: bool = False
) -> Response:
    services = services_of(request)
    now = services.clock.now()

    def load() -> dict[str, Any]:
        return {
            "logs": list_executions(
                services.engine, failed_only=failed, job_name=job or None, limit=200
            ),
            "failed_24h": queries.failed_logs_since(services.engine, now - timedelta(hours=24)),
        }

    context = await asyncio.to_thread(load)
    filters = {"job": job or "", "failed": failed}
    return page(request, "logs.html", session, {"title": "Logs", "filters": filters, **context})


@router.get("/secrets")
async def secrets_page(request: Request, session: UserDep) -> Response:
    vault = services_of(request).vault.with_actor("dashboard")
    metas = await asyncio.to_thread(vault.list_secrets)
    return page(request, "secrets.html", session, {"title": "Secrets", "secrets": metas})


@router.get("/reminders")
async def reminders_page(
    request: Request, session: UserDep, channel: Filter = None, status: Filter = None
) -> Response:
    services = services_of(request)
    now = services.clock.now()

    def load() -> dict[str, Any]:
        labels, series = queries.messages_per_day(services.engine, now)
        return {
            "counts": queries.notification_counts(services.engine, now - timedelta(days=7)),
            "lists": queries.notification_lists(
                services.engine, now, channel=channel or None, status=status or None
            ),
            "chart": stacked_bars("Messages sent per day by channel (UTC)", labels, series),
            "replies": replies(services.engine),
        }

    context = await asyncio.to_thread(load)
    filters = {"channel": channel or "", "status": status or ""}
    return page(
        request,
        "reminders.html",
        session,
        {"title": "Reminders", "filters": filters, "channels": queries.CHANNELS, **context},
    )


def replies(engine: Engine) -> list[InboundRow]:
    """The latest SMS and WhatsApp messages clients sent, and what each did."""
    with engine.connect() as conn:
        return recent_replies(conn)


@router.get("/appointments/{appointment_id}")
async def appointment_page(request: Request, session: UserDep, appointment_id: int) -> Response:
    services = services_of(request)
    found = await asyncio.to_thread(queries.appointment_timeline, services.engine, appointment_id)
    if found is None:
        raise NotFoundError(f"no appointment {appointment_id}")
    appointment, events = found
    context = {"title": f"Appointment {appointment_id}", "a": appointment, "events": events}
    return page(request, "appointment.html", session, context)


@router.get("/health")
async def health_page(request: Request, session: UserDep) -> Response:
    services = services_of(request)

    def load() -> dict[str, Any]:
        return {
            "checks": verify(services),
            "vault": vault_state(services),
            "alerts": queries.alert_states(services.engine),
            "alert_email": services.settings.alert_email,
        }

    context = await asyncio.to_thread(load)
    return page(request, "health.html", session, {"title": "Health", **context})
