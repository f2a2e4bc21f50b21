"""The clients and appointments API over a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from avisa.clock import FrozenClock
from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app

H = timedelta(hours=1)


@pytest.fixture
def api(services: Services, service_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with (
        serve_app(create_app(services)) as url,
        httpx.Client(base_url=url, headers=service_headers, timeout=10) as client,
    ):
        yield client


def booking(clock: FrozenClock, in_: timedelta = 72 * H, **fields: object) -> dict[str, object]:
    start = clock.now() + in_
    body: dict[str, object] = {
        "client": {
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "600 123 456",
            "timezone": "Europe/Madrid",
        },
        "service": "Corte",
        "starts_at": start.isoformat(),
        "ends_at": (start + H).isoformat(),
        "total_amount": "25",
        "paid_amount": "10.5",
    }
    body.update(fields)
    return body


def test_every_endpoint_needs_the_service_key(services: Services, anon_key: str) -> None:
    with serve_app(create_app(services)) as url:
        assert httpx.get(f"{url}/api/v1/clients").status_code == 401
        assert httpx.post(f"{url}/api/v1/appointments", json={}).status_code == 401
        anon = {"Authorization": f"Bearer {anon_key}"}
        assert httpx.get(f"{url}/api/v1/appointments", headers=anon).status_code == 403


def test_booking_with_an_inline_client_plans_reminders_and_renders_local_time(
    api: httpx.Client, clock: FrozenClock
) -> None:
    answer = api.post("/api/v1/appointments", json=booking(clock))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    # 2026-03-05 09:00 UTC is 10:00 in Madrid (CET); amounts are exact decimal strings.
    assert body["starts_at"] == "2026-03-05T10:00:00+01:00"
    assert body["timezone"] == "Europe/Madrid"
    assert (body["total_amount"], body["paid_amount"], body["currency"]) == (
        "25.00",
        "10.50",
        "EUR",
    )
    assert body["status"] == "scheduled"
    client = api.get(f"/api/v1/clients/{body['client_id']}").json()
    assert client["phone"] == "+34600123456"
    assert client["channels"] == ["email", "sms"]
    planned = api.get(f"/api/v1/appointments/{body['id']}/notifications").json()
    assert planned["next_cursor"] is None
    assert sorted((n["kind"], n["channel"], n["status"]) for n in planned["items"]) == [
        ("reminder_1h", "email", "pending"),
        ("reminder_1h", "sms", "pending"),
        ("reminder_24h", "email", "pending"),
        ("reminder_24h", "sms", "pending"),
    ]
    assert {n["due_at"] for n in planned["items"] if n["kind"] == "reminder_1h"} == {
        "2026-03-05T09:00:00+01:00"
    }


def test_a_late_booking_gets_its_reminder_at_once(api: httpx.Client, clock: FrozenClock) -> None:
    created = api.post("/api/v1/appointments", json=booking(clock, 30 * timedelta(minutes=1)))
    items = api.get(f"/api/v1/appointments/{created.json()['id']}/notifications").json()["items"]
    assert sorted((n["kind"], n["status"], n["reason"]) for n in items) == [
        ("reminder_1h", "pending", None),
        ("reminder_1h", "pending", None),
        ("reminder_24h", "skipped", "superseded"),
        ("reminder_24h", "skipped", "superseded"),
    ]
    assert {n["due_at"] for n in items if n["status"] == "pending"} == {
        "2026-03-02T10:00:00+01:00"  # now, in Madrid
    }


def test_same_external_id_updates_instead_of_duplicating(
    api: httpx.Client, clock: FrozenClock
) -> None:
    first = api.post("/api/v1/appointments", json=booking(clock, external_id="cal-42"))
    again = api.post(
        "/api/v1/appointments", json=booking(clock, 96 * H, external_id="cal-42", service="Tinte")
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["service"] == "Tinte"
    listed = api.get("/api/v1/appointments").json()["items"]
    assert len(listed) == 1
    clients = api.get("/api/v1/clients").json()["items"]
    assert len(clients) == 1  # the inline client was recognised by its email


def test_reschedule_cancels_old_reminders_and_plans_new_ones(
    api: httpx.Client, clock: FrozenClock
) -> None:
    created = api.post("/api/v1/appointments", json=booking(clock)).json()
    new_start = clock.now() + 100 * H
    moved = api.patch(
        f"/api/v1/appointments/{created['id']}",
        json={"starts_at": new_start.isoformat(), "ends_at": (new_start + H).isoformat()},
    )
    assert moved.status_code == 200, moved.text
    items = api.get(f"/api/v1/appointments/{created['id']}/notifications").json()["items"]
    assert (
        sorted((n["status"], n["reason"]) for n in items)
        == [("cancelled", "rescheduled")] * 4 + [("pending", None)] * 4
    )


def test_naive_times_are_wall_clock_in_the_appointment_zone(
    api: httpx.Client, clock: FrozenClock
) -> None:
    body = booking(clock, starts_at="2026-03-29T10:00:00", ends_at="2026-03-29T11:00:00")
    created = api.post("/api/v1/appointments", json=body)
    assert created.json()["starts_at"] == "2026-03-29T10:00:00+02:00"  # after the DST change
    gap = booking(clock, starts_at="2026-03-29T02:30:00", ends_at="2026-03-29T03:30:00")
    refused = api.post("/api/v1/appointments", json=gap)
    assert refused.status_code == 422
    assert "starts_at" in refused.json()["error"]["message"]
    assert "does not exist in Europe/Madrid" in refused.json()["error"]["message"]


def test_confirm_and_cancel_transitions_and_conflicts(
    api: httpx.Client, clock: FrozenClock
) -> None:
    appointment = api.post("/api/v1/appointments", json=booking(clock)).json()
    base = f"/api/v1/appointments/{appointment['id']}"
    confirmed = api.post(f"{base}/confirm")
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["confirmed_at"] == "2026-03-02T10:00:00+01:00"
    assert api.post(f"{base}/confirm").status_code == 200  # harmless twice
    cancelled = api.post(f"{base}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    items = api.get(f"{base}/notifications").json()["items"]
    assert {(n["status"], n["reason"]) for n in items} == {("cancelled", "cancelled")}
    refused = api.post(f"{base}/confirm")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        f"appointment {appointment['id']} is cancelled; only a scheduled appointment can "
        "become confirmed"
    )
    assert api.patch(base, json={"service": "Tinte"}).status_code == 409
    assert api.post("/api/v1/appointments/999999/cancel").status_code == 404


INVALID_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"client": {"name": "Ana", "phone": "12"}}, "client.phone"),
    ({"client": {"name": "Ana", "email": "not-an-email"}}, "client.email"),
    ({"client": {"name": "Ana"}}, "client.channels"),
    (
        {"client": {"name": "Ana", "email": "a@example.com", "channels": ["sms"]}},
        "client.channels",
    ),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"currency": "XYZ"}, "currency"),
    ({"paid_amount": "30"}, "paid_amount"),
    ({"total_amount": "-1"}, "total_amount"),
    ({"total_amount": "10.001"}, "total_amount"),
    ({"ends_at": "2026-03-01T00:00:00+00:00"}, "ends_at"),
    ({"status": "completed"}, "status"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"unknown": 1}, "unknown"),
]


def test_invalid_fields_answer_422_naming_the_field(api: httpx.Client, clock: FrozenClock) -> None:
    """One table, one database setup: each bad field is named in a one-line message."""
    for change, field in INVALID_FIELDS:
        answer = api.post("/api/v1/appointments", json=booking(clock, **change))
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["error"]["message"].startswith(f"invalid {field}"), answer.text
    assert api.get("/api/v1/appointments").json()["items"] == []


def test_lists_filter_and_page_with_a_cursor(api: httpx.Client, clock: FrozenClock) -> None:
    ids = [
        api.post("/api/v1/appointments", json=booking(clock, (50 + i) * H)).json()["id"]
        for i in range(5)
    ]
    api.post(f"/api/v1/appointments/{ids[1]}/cancel")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "status": "scheduled"}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/v1/appointments", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [ids[0], ids[2], ids[3], ids[4]]
    window = api.get(
        "/api/v1/appointments",
        params={
            "from": (clock.now() + 51 * H).isoformat(),
            "to": (clock.now() + 53 * H).isoformat(),
        },
    ).json()["items"]
    assert [a["id"] for a in window] == [ids[1], ids[2]]
    assert api.get("/api/v1/appointments", params={"cursor": "garbage"}).status_code == 422
    naive = api.get("/api/v1/appointments", params={"from": "2026-03-02T09:00:00"})
    assert naive.status_code == 422
    assert naive.json()["error"]["message"].startswith("invalid from")


def test_clients_are_created_listed_and_edited(api: httpx.Client) -> None:
    created = api.post(
        "/api/v1/clients",
        json={"name": "Luis", "phone": "+44 20 7946 0958", "whatsapp": True, "locale": "en"},
    )
    assert created.status_code == 201, created.text
    client = created.json()
    assert (client["phone"], client["whatsapp"]) == ("+442079460958", "+442079460958")
    assert client["channels"] == ["sms", "whatsapp"]
    edited = api.patch(f"/api/v1/clients/{client['id']}", json={"opt_out": ["sms"]})
    assert edited.json()["opt_out"] == ["sms"]
    unnamed = api.patch(f"/api/v1/clients/{client['id']}", json={"name": None})
    assert (unnamed.status_code, unnamed.json()["error"]["message"]) == (
        422,
        "invalid name: cannot be null",
    )
    assert api.get("/api/v1/clients/424242").status_code == 404
    assert api.get("/api/v1/clients").json()["items"][0]["name"] == "Luis"
