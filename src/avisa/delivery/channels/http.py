"""What the HTTP providers (Twilio, Meta) share: one client, and network failures
classified as transient."""

from __future__ import annotations

from typing import Any

import httpx

from avisa.delivery.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


def new_client(timeout: float = 10.0, max_connections: int = 64) -> httpx.AsyncClient:
    """An AsyncClient with a bounded pool and timeout; no redirects (an API never needs one)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=32),
        follow_redirects=False,
    )


async def request(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """Send one request; network failures become TransientDeliveryError.

    The message names the failure's class only: httpx's own text may hold the URL, and
    the URL holds no secret here but the habit keeps errors uniform and short.
    """
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise TransientDeliveryError(
            f"timeout talking to the provider ({type(exc).__name__})"
        ) from None
    except httpx.TransportError as exc:
        raise TransientDeliveryError(f"cannot reach the provider ({type(exc).__name__})") from None


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or {} when it is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after(response: httpx.Response) -> float | None:
    """The `Retry-After` header in seconds, when it is a number."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def by_status(response: httpx.Response, message: str, code: str | int | None) -> DeliveryError:
    """The default reading of an HTTP error: 429 and 5xx transient, other 4xx permanent."""
    if response.status_code == 429 or response.status_code >= 500:
        return TransientDeliveryError(message, code=code, retry_after=retry_after(response))
    return PermanentDeliveryError(message, code=code)
