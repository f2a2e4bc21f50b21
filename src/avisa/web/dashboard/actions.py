"""The dashboard's forms (POST): run now, activate, reschedule, write secrets.

Each goes through `read_form` (CSRF) and the same APIs the CLI uses, so the same rules
apply: a schedule the CLI refuses is refused here with the same message. Outcomes are
shown once on the next page; a secret's value never appears in one.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from avisa.cron.jobs import JobChanges
from avisa.cron.runtime import cron_jobs
from avisa.errors import AvisaError
from avisa.web.dashboard.core import (
    PREFIX,
    LoginRequiredError,
    back,
    read_form,
    services_of,
)
from avisa.web.dashboard.session import Session

router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _logged_in_form(request: Request) -> tuple[Session, dict[str, str]]:
    session, fields = await read_form(request)
    if not session.logged_in:
        raise LoginRequiredError(f"{PREFIX}/jobs")
    return session, fields


@router.post("/jobs/run")
async def run_job(request: Request) -> Response:
    session, fields = await _logged_in_form(request)
    name = fields.get("job", "")
    try:
        runid = await asyncio.to_thread(cron_jobs(services_of(request)).request_run, name)
    except AvisaError as exc:
        return back(request, session, f"{PREFIX}/jobs", "error", str(exc))
    return back(
        request, session, f"{PREFIX}/runs?job={name}", "ok", f"queued run {runid} of {name}"
    )


@router.post("/jobs/active")
async def set_active(request: Request) -> Response:
    session, fields = await _logged_in_form(request)
    name, active = fields.get("job", ""), fields.get("active") == "1"
    jobs = cron_jobs(services_of(request))
    try:
        await asyncio.to_thread(jobs.alter, name, JobChanges(active=active))
    except AvisaError as exc:
        return back(request, session, f"{PREFIX}/jobs", "error", str(exc))
    verb = "activated" if active else "deactivated"
    return back(request, session, f"{PREFIX}/jobs", "ok", f"{verb} {name}")


@router.post("/jobs/schedule")
async def reschedule(request: Request) -> Response:
    session, fields = await _logged_in_form(request)
    name = fields.get("job", "")
    changes = JobChanges(
        schedule=fields.get("schedule") or None, timezone=fields.get("timezone") or None
    )
    jobs = cron_jobs(services_of(request))
    try:
        job = await asyncio.to_thread(jobs.alter, name, changes)
    except AvisaError as exc:
        return back(request, session, f"{PREFIX}/jobs", "error", f"{name}: {exc}")
    text = f"{name} now runs {job.schedule} ({job.timezone})"
    return back(request, session, f"{PREFIX}/jobs", "ok", text)


@router.post("/secrets/create")
async def create_secret(request: Request) -> Response:
    session, fields = await _logged_in_form(request)
    name, value = fields.get("name", "").strip(), fields.get("value", "")
    vault = services_of(request).vault.with_actor("dashboard")
    try:
        await asyncio.to_thread(vault.create_secret, value, name, fields.get("description", ""))
    except AvisaError as exc:
        return back(request, session, f"{PREFIX}/secrets", "error", _secret_error(exc, value))
    return back(request, session, f"{PREFIX}/secrets", "ok", f"created secret {name}")


@router.post("/secrets/update")
async def update_secret(request: Request) -> Response:
    session, fields = await _logged_in_form(request)
    name, value = fields.get("name", ""), fields.get("value", "")
    vault = services_of(request).vault.with_actor("dashboard")
    try:
        meta = await asyncio.to_thread(vault.update_secret, name, value, None, None, None)
    except AvisaError as exc:
        return back(request, session, f"{PREFIX}/secrets", "error", _secret_error(exc, value))
    text = f"stored version {meta.version} of {meta.name}"
    return back(request, session, f"{PREFIX}/secrets", "ok", text)


def _secret_error(exc: AvisaError, value: str) -> str:
    # Vault errors never quote values; this is a second lock on the same door.
    text = str(exc)
    return text.replace(value, "[value]") if len(value) >= 4 else text
