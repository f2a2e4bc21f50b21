"""`/api/v1/vault/secrets` over a real socket: metadata only, values write-only, auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app


@pytest.fixture
def client(services: Services, service_headers: dict[str, str]) -> Iterator[httpx.Client]:
    with (
        serve_app(create_app(services)) as url,
        httpx.Client(base_url=url, headers=service_headers) as client,
    ):
        yield client


def test_lifecycle(client: httpx.Client, services: Services) -> None:
    created = client.post(
        "/api/v1/vault/secrets",
        json={"name": "TWILIO_AUTH_TOKEN", "value": "tok", "description": "sms"},
    )
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "TWILIO_AUTH_TOKEN"
    assert body["version"] == 1
    assert "value" not in body
    listing = client.get("/api/v1/vault/secrets").json()
    assert listing["next_cursor"] is None
    assert "TWILIO_AUTH_TOKEN" in [item["name"] for item in listing["items"]]
    updated = client.patch(
        "/api/v1/vault/secrets/TWILIO_AUTH_TOKEN", json={"value": "tok2", "expected_version": 1}
    )
    assert updated.json()["version"] == 2
    assert services.vault.get_secret("TWILIO_AUTH_TOKEN") == "tok2"
    stale = client.patch(
        "/api/v1/vault/secrets/TWILIO_AUTH_TOKEN", json={"value": "tok3", "expected_version": 1}
    )
    assert stale.status_code == 409
    assert "is at version 2, not 1" in stale.json()["error"]["message"]
    assert client.delete("/api/v1/vault/secrets/TWILIO_AUTH_TOKEN").status_code == 204
    assert client.get("/api/v1/vault/secrets/TWILIO_AUTH_TOKEN").json()["deleted_at"] is not None
    restored = client.post("/api/v1/vault/secrets/TWILIO_AUTH_TOKEN/restore")
    assert restored.json()["deleted_at"] is None
    assert (
        client.delete(
            "/api/v1/vault/secrets/TWILIO_AUTH_TOKEN", params={"destroy": "true"}
        ).status_code
        == 204
    )
    assert client.get("/api/v1/vault/secrets/TWILIO_AUTH_TOKEN").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "has space", "value": "v"}, "name"),
        ({"name": "", "value": "v"}, "name"),
        ({"name": "ok"}, "value"),
        ({"name": "ok", "value": ""}, "value"),
        ({"name": "ok", "value": "x" * 65537}, "value"),
        ({"name": "ok", "value": "v", "colour": "red"}, "colour"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    client: httpx.Client, payload: dict[str, str], field: str
) -> None:
    answer = client.post("/api/v1/vault/secrets", json=payload)
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith(f"invalid {field}:")


def test_malformed_json_is_422(client: httpx.Client) -> None:
    answer = client.post(
        "/api/v1/vault/secrets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert "Traceback" not in answer.text


def test_unknown_secret_is_404(client: httpx.Client) -> None:
    answer = client.get("/api/v1/vault/secrets/NOPE")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"message": "no secret named 'NOPE'"}}


def test_auth_is_required(services: Services, anon_key: str) -> None:
    """No key or a bad one: 401 with one body; the anon key: 403."""
    with serve_app(create_app(services)) as url:
        missing = httpx.get(f"{url}/api/v1/vault/secrets")
        garbage = httpx.get(f"{url}/api/v1/vault/secrets", headers={"Authorization": "Bearer x"})
        basic = httpx.get(f"{url}/api/v1/vault/secrets", headers={"Authorization": "Basic eA=="})
        anon = httpx.get(
            f"{url}/api/v1/vault/secrets", headers={"Authorization": f"Bearer {anon_key}"}
        )
    for answer in (missing, garbage, basic):
        assert answer.status_code == 401
        assert answer.json() == {"error": {"message": "invalid or missing service key"}}
        assert answer.headers["www-authenticate"] == "Bearer"
    assert anon.status_code == 403
