"""`POST /functions/v1/{name}` over a real socket: auth matrix, limits, logs, failures."""

from __future__ import annotations

import base64
import json as jsonlib
from datetime import timedelta

import httpx
import jwt
import pytest
import sqlalchemy as sa

from avisa.db.tables.functions import cron_execution_logs
from avisa.vault.keys import JWT_SECRET
from avisa.vault.tokens import issue_token
from tests.functions.conftest import Live

UNAUTHORIZED = {"error": {"message": "invalid or missing service key"}}


def _logs(live: Live) -> list[sa.Row[tuple[object, ...]]]:
    with live.services.engine.connect() as conn:
        return list(conn.execute(sa.select(cron_execution_logs).order_by(cron_execution_logs.c.id)))


def _post(
    live: Live,
    name: str,
    token: str | None,
    *,
    headers: dict[str, str] | None = None,
    json: object = None,
    content: bytes | None = None,
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}".strip()} if token is not None else {}
    sent.update(headers or {})
    return httpx.post(f"{live.url}/functions/v1/{name}", headers=sent, json=json, content=content)


def test_success_answers_with_counts_and_logs_one_row(live: Live, service_key: str) -> None:
    answer = _post(live, "process-reminders", service_key, json={})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "success"
    assert body["details"]["planned"] == 0
    rows = _logs(live)
    assert len(rows) == 1
    assert (rows[0].job_name, rows[0].function_name, rows[0].status) == (
        "process-reminders",
        "process-reminders",
        "success",
    )
    assert rows[0].details["planned"] == 0
    assert "duration_ms" in rows[0].details


def test_the_calling_job_is_named_in_the_log(live: Live, service_key: str) -> None:
    _post(live, "appointment-status-updater", service_key, headers={"X-Avisa-Job": "nightly"})
    assert _logs(live)[-1].job_name == "nightly"


def test_the_calling_run_is_kept_in_the_log(live: Live, service_key: str) -> None:
    _post(live, "process-reminders", service_key, headers={"X-Avisa-Run": "4711"})
    _post(live, "process-reminders", service_key, headers={"X-Avisa-Run": "12; drop"})
    first, second = _logs(live)[-2:]
    assert first.details["run_id"] == 4711
    assert "run_id" not in second.details  # not a run id: ignored


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(jsonlib.dumps(data).encode()).rstrip(b"=").decode()


def _bad_tokens(live: Live) -> dict[str, str | None]:
    secret = live.services.vault.get_secret(JWT_SECRET)
    now = live.services.clock.now()
    claims = {"role": "service_role", "iat": int(now.timestamp()), "exp": int(now.timestamp()) + 60}
    return {
        "missing": None,
        "bearer-only": " ",
        "malformed": "not-a-token",
        "bad-signature": jwt.encode(claims, "some-other-secret-that-is-long-enough"),
        "expired": issue_token(secret, "service_role", now - timedelta(days=2), timedelta(days=1)),
        "alg-none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
    }


def test_auth_matrix(live: Live, anon_key: str, service_key: str) -> None:
    """401 with one identical body for every bad token; 403 for the anon key; no log rows."""
    for label, token in _bad_tokens(live).items():
        answer = _post(live, "process-reminders", token)
        assert answer.status_code == 401, label
        assert answer.json() == UNAUTHORIZED, label
    anon = _post(live, "process-reminders", anon_key)
    assert anon.status_code == 403
    assert _logs(live) == []
    unknown = _post(live, "no-such-function", service_key)
    assert unknown.status_code == 404
    assert unknown.json() == {"error": {"message": "unknown function 'no-such-function'"}}


def test_unknown_function_without_a_key_is_401_not_404(live: Live) -> None:
    """Authentication comes first, so function names cannot be probed."""
    assert _post(live, "no-such-function", None).status_code == 401


@pytest.mark.parametrize(
    ("content", "status", "message"),
    [
        (b"x" * (64 * 1024 + 1), 413, "request body larger than 65536 bytes"),
        (b"{not json", 400, "request body is not valid JSON"),
        (b"[1, 2]", 400, "request body must be a JSON object"),
        (b"\xff\xfe", 400, "request body is not valid JSON"),
    ],
)
def test_bad_bodies(
    live: Live, service_key: str, content: bytes, status: int, message: str
) -> None:
    answer = _post(
        live, "echo", service_key, content=content, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status
    assert answer.json() == {"error": {"message": message}}
    assert _logs(live) == []


def test_a_json_object_reaches_the_function(live: Live, service_key: str) -> None:
    answer = _post(live, "echo", service_key, json={"b": 1, "a": [2]})
    assert answer.json()["details"]["keys"] == ["a", "b"]


def test_a_failing_function_is_logged_and_answers_a_generic_500(
    live: Live, service_key: str
) -> None:
    answer = _post(live, "explode", service_key)
    assert answer.status_code == 500
    assert answer.json() == {"error": {"message": "function explode failed"}}
    assert "hunter2" not in answer.text
    row = _logs(live)[-1]
    assert (row.status, row.message) == ("failed", "explode failed (RuntimeError)")
    assert row.details["error_class"] == "RuntimeError"
    assert "hunter2" not in jsonlib.dumps(row.details)


def test_repeated_failures_from_one_address_get_429(live: Live, service_key: str) -> None:
    """Ten bad keys in a minute block the address, even for a good key, with Retry-After."""
    for _ in range(10):
        assert _post(live, "process-reminders", "bad").status_code == 401
    blocked = _post(live, "process-reminders", service_key)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    live.services.clock.advance(timedelta(seconds=61))  # type: ignore[attr-defined]
    assert _post(live, "process-reminders", service_key).status_code == 200
