"""Generated requests against the clients and appointments API: never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from avisa.services import Services
from avisa.web import create_app
from tests.support.server import serve_app

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
OPERATIONS = [
    ("/api/v1/clients", "POST"),
    ("/api/v1/clients", "GET"),
    ("/api/v1/clients/{client_id}", "GET"),
    ("/api/v1/clients/{client_id}", "PATCH"),
    ("/api/v1/appointments", "POST"),
    ("/api/v1/appointments", "GET"),
    ("/api/v1/appointments/{appointment_id}", "GET"),
    ("/api/v1/appointments/{appointment_id}", "PATCH"),
    ("/api/v1/appointments/{appointment_id}/confirm", "POST"),
    ("/api/v1/appointments/{appointment_id}/cancel", "POST"),
    ("/api/v1/appointments/{appointment_id}/notifications", "GET"),
]


@pytest.fixture
def base_url(services: Services) -> Iterator[str]:
    with serve_app(create_app(services)) as url:
        yield url


@pytest.mark.timeout(240)
def test_generated_requests_never_fail_the_server(
    base_url: str, service_headers: dict[str, str]
) -> None:
    """Valid and invalid generated bodies, paths and queries: a 4xx at worst, never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations: list[Any] = [schema[path][method] for path, method in OPERATIONS]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @SETTINGS
            def call(case: Any) -> None:
                response = case.call(headers=service_headers)
                assert response.status_code < 500, (case.method, case.path, response.text)

            call()
