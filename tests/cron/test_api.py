"""`/api/v1/cron/jobs` and `/api/v1/cron/runs` over a real socket, with the service key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from avisa.cron.runtime import PURGE_JOB_NAME, build_scheduler
from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app

JOBS = "/api/v1/cron/jobs"
RUNS = "/api/v1/cron/runs"


@pytest.fixture
def client(services: Services, service_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with (
        serve_app(create_app(services)) as url,
        httpx.Client(base_url=url, headers=service_headers) as client,
    ):
        yield client


def test_job_lifecycle_and_runs(client: httpx.Client, services: Services) -> None:
    """Create, update by name, get, patch, run (queued, then run by a worker), list, delete."""
    spec = {
        "name": "ping",
        "schedule": "*/5 * * * *",
        "command": {
            "type": "http",
            "url": "http://127.0.0.1:9/x",
            "headers": {"Authorization": "Bearer {{secret:SERVICE_ROLE_KEY}}"},
        },
        "timezone": "Europe/Madrid",
    }
    created = client.post(JOBS, json=spec)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["description"] == "Every 5 minutes"
    assert job["command"]["headers"] == [["Authorization", "Bearer {{secret:SERVICE_ROLE_KEY}}"]]
    assert job["next_run_at"] == "2026-03-02T09:05:00Z"
    assert job["last_run"] is None
    updated = client.post(JOBS, json={**spec, "command": {"type": "sql", "sql": "SELECT 1"}})
    assert updated.status_code == 200
    assert updated.json()["jobid"] == job["jobid"]
    patched = client.patch(f"{JOBS}/ping", json={"active": False, "overlap": "queue"})
    assert patched.status_code == 200
    assert patched.json()["active"] is False
    assert patched.json()["next_run_at"] is None
    names = [item["jobname"] for item in client.get(JOBS).json()["items"]]
    assert {"ping", PURGE_JOB_NAME} <= set(names)
    assert names == sorted(names)

    requested = client.post(f"{JOBS}/ping/run")
    assert requested.status_code == 202
    runid = requested.json()["runid"]
    assert client.get(f"{RUNS}/{runid}").json()["status"] == "starting"

    async def one_pass() -> None:
        scheduler = build_scheduler(services)
        await asyncio.gather(*scheduler.run_pending())
        await scheduler.runner.aclose()

    asyncio.run(one_pass())
    run = client.get(f"{RUNS}/{runid}").json()
    assert run["status"] == "succeeded"
    assert run["origin"] == "manual"
    assert run["return_message"] == "1 row(s) returned"
    listing = client.get(RUNS, params={"job": "ping", "status": "succeeded", "limit": 1}).json()
    assert [item["runid"] for item in listing["items"]] == [runid]
    assert listing["next_cursor"] == str(runid)
    assert client.get(RUNS, params={"cursor": listing["next_cursor"]}).json()["items"] == []
    assert client.get(f"{JOBS}/ping").json()["last_run"]["runid"] == runid

    assert client.delete(f"{JOBS}/ping").status_code == 204
    assert client.get(f"{JOBS}/ping").status_code == 404
    assert client.get(f"{RUNS}/{runid}").status_code == 404


BAD_REQUESTS = [
    (
        "post",
        JOBS,
        {"name": "x", "schedule": "61 * * * *", "command": {"type": "sql", "sql": "S"}},
        422,
        "invalid schedule '61 * * * *'",
    ),
    (
        "post",
        JOBS,
        {"name": "x", "schedule": "@daily", "command": {"type": "nope"}},
        422,
        "command.type: 'nope' is not sql, http or function",
    ),
    (
        "post",
        JOBS,
        {
            "name": "x",
            "schedule": "@daily",
            "command": {"type": "sql", "sql": "S"},
            "timezone": "Mars/Base",
        },
        422,
        "unknown time zone 'Mars/Base'",
    ),
    (
        "post",
        JOBS,
        {"name": "bad\nname", "schedule": "@daily", "command": {"type": "sql", "sql": "S"}},
        422,
        "invalid job name",
    ),
    (
        "post",
        JOBS,
        {
            "name": "x",
            "schedule": "@daily",
            "command": {"type": "sql", "sql": "S"},
            "overlap": "never",
        },
        422,
        "invalid overlap",
    ),
    ("patch", f"{JOBS}/missing", {"active": True}, 404, "no job named 'missing'"),
    ("patch", f"{JOBS}/{PURGE_JOB_NAME}", {}, 422, "nothing to change"),
    ("post", f"{JOBS}/missing/run", None, 404, "no job named 'missing'"),
    ("get", f"{RUNS}?since=2026-01-01T00:00:00", None, 422, "invalid query.since"),
    ("get", f"{RUNS}?cursor=abc", None, 422, "invalid query.cursor"),
    ("get", f"{RUNS}?status=lost", None, 422, "invalid query.status"),
]


def test_bad_requests_are_refused_with_a_message(client: httpx.Client) -> None:
    """Each bad field or unknown name gets its status and a message naming the problem."""
    for method, path, body, status, message in BAD_REQUESTS:
        answer = client.request(str(method).upper(), str(path), json=body)
        assert answer.status_code == status, (path, body, answer.text)
        assert str(message) in answer.json()["error"]["message"], answer.text


def test_the_api_needs_the_service_key(services: Services, anon_key: str) -> None:
    with serve_app(create_app(services)) as url:
        assert httpx.get(f"{url}{JOBS}").status_code == 401
        anon = {"Authorization": f"Bearer {anon_key}"}
        assert httpx.get(f"{url}{RUNS}", headers=anon).status_code == 403
