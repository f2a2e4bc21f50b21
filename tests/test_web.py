"""The HTTP skeleton over a real socket: probes, JSON errors, body limit, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from avisa.db.engine import create_engine
from avisa.services import Services, build_services
from avisa.web import create_app
from avisa.web.limits import BodySizeLimit
from tests.support.server import serve_app


@pytest.fixture
def base_url(services: Services) -> Iterator[str]:
    with serve_app(create_app(services)) as url:
        yield url


def test_healthz_and_readyz(base_url: str) -> None:
    assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base_url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(make_settings: Any) -> None:
    """A process whose database is down stays alive and says why it is not ready."""
    settings = make_settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    engine = create_engine(settings, connect_args={"connect_timeout": 2})
    services = build_services(settings, engine=engine)
    with serve_app(create_app(services)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz", timeout=10)
    engine.dispose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("unreachable")
    assert "nobody" not in ready.text


def test_unknown_route_is_a_json_404(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/nowhere")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"message": "Not Found"}}


@pytest.fixture
def echo_url() -> Iterator[str]:
    """A tiny app behind the body limit whose one route reads the whole body."""
    app = FastAPI()
    app.add_middleware(BodySizeLimit, max_bytes=1000)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    with serve_app(app) as url:
        yield url


def test_body_at_the_limit_is_accepted(echo_url: str) -> None:
    answer = httpx.post(f"{echo_url}/echo", content=b"x" * 1000)
    assert answer.json() == {"received": 1000}


def test_declared_oversized_body_is_refused_with_413(echo_url: str) -> None:
    """A declared length over the limit is refused before the body is read."""
    answer = httpx.post(f"{echo_url}/echo", content=b"x" * 1001)
    assert answer.status_code == 413
    assert answer.json() == {"error": {"message": "request body larger than 1000 bytes"}}


def test_oversized_chunked_body_is_refused_with_413(echo_url: str) -> None:
    """A chunked body with no declared length is counted as it streams."""

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 100

    answer = httpx.post(f"{echo_url}/echo", content=chunks())
    assert answer.status_code == 413


def test_the_app_caps_bodies_at_one_mebibyte(base_url: str) -> None:
    answer = httpx.post(f"{base_url}/healthz", content=b"x" * (1024 * 1024 + 1))
    assert answer.status_code == 413


def test_openapi_document_is_served(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert spec["info"]["title"] == "avisa"
    assert "/readyz" in spec["paths"]
    assert httpx.get(f"{base_url}/docs").status_code == 200
