"""schemathesis over the OpenAPI document of the functions: no 5xx for any generated input,
answers that match the documented statuses, and every unauthenticated call refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode

from avisa.functions.registry import HttpFunctions, builtin_http_functions
from tests.functions.conftest import Live

# schemathesis' generics carry its internal types; the tests only pass them along.
Operation = APIOperation[Any, Any, Any, Any]
GeneratedCase = Case[Any]


@pytest.fixture
def functions() -> HttpFunctions:
    """Only the shipped functions: none is meant to fail."""
    return builtin_http_functions()


def _operation(live: Live) -> Operation:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operation: Operation = schema["/functions/v1/{name}"]["POST"]
    return operation


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.timeout(180)
def test_generated_calls_never_fail_the_server(live: Live, service_key: str) -> None:
    """Positive and negative generated inputs: never a 5xx, statuses as documented."""
    operation = _operation(live)
    headers = {"Authorization": f"Bearer {service_key}"}

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @SETTINGS
    def positive(case: GeneratedCase) -> None:
        case.call_and_validate(headers=headers)

    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    @SETTINGS
    def negative(case: GeneratedCase) -> None:
        response = case.call(headers=headers)
        assert response.status_code < 500, response.text

    positive()
    negative()


@pytest.mark.timeout(120)
def test_generated_calls_without_a_key_are_refused(live: Live) -> None:
    operation = _operation(live)

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, database=None)
    def unauthenticated(case: GeneratedCase) -> None:
        response = case.call()
        assert response.status_code in (401, 429), response.text

    unauthenticated()


def test_schema_documents_the_error_answers(live: Live) -> None:
    spec = httpx.get(f"{live.url}/openapi.json").json()
    responses = spec["paths"]["/functions/v1/{name}"]["post"]["responses"]
    assert {"200", "401", "403", "404", "413", "429", "500"} <= set(responses)
