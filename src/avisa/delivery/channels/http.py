"""What the HTTP providers (Twilio, Meta) share: one client, and network failures
classified as transient.

The provider path uses aiohttp, not httpx (decision D11): against the same local Twilio,
a bare aiohttp client posted 7,400 messages/s at 0.13 ms of CPU each, a bare httpx client
1,600/s at 0.61 ms, and httpx was most of the delivery worker's own CPU per message.
httpx stays for the scheduler's HTTP jobs and the CLI, where requests are few.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from avisa.delivery.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError


@dataclass(frozen=True)
class ProviderResponse:
    """A provider's whole answer: status, headers (case-insensitive) and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON. Raises ValueError when it is not JSON."""
        return json.loads(self.content)


class ProviderClient:
    """A pooled HTTP client for provider APIs: bounded connections, a total timeout per
    request, no redirects (an API never needs one).

    Its aiohttp session is made on first use, on the loop that uses it (transports are
    built before the delivery thread's loop runs); `aclose()` on that same loop.
    """

    def __init__(self, timeout: float = 10.0, max_connections: int = 64) -> None:
        self.timeout = timeout
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"ProviderClient(timeout={self.timeout}, max_connections={self.max_connections})"

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                # Provider answers are JSON we parse ourselves; no cookies to keep.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> ProviderResponse:
        """Send one request and read the whole answer. Raises aiohttp's errors and
        TimeoutError."""
        sent = dict(headers or {})
        if auth is not None:
            sent["Authorization"] = aiohttp.encode_basic_auth(*auth)
        async with self.session().request(
            method,
            url,
            data=data,
            json=json,
            params=params,
            headers=sent,
            allow_redirects=False,
        ) as response:
            content = await response.read()
            return ProviderResponse(response.status, response.headers, content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def new_client(timeout: float = 10.0, max_connections: int = 64) -> ProviderClient:
    """A client for one provider (see `ProviderClient`)."""
    return ProviderClient(timeout, max_connections)


async def request(client: ProviderClient, method: str, url: str, **kwargs: Any) -> ProviderResponse:
    """Send one request; network failures become TransientDeliveryError.

    The message names the failure's class only: the client's own text may hold the URL,
    and the URL holds no secret here but the habit keeps errors uniform and short.
    """
    try:
        return await client.request(method, url, **kwargs)
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise TransientDeliveryError(
            f"timeout talking to the provider ({type(exc).__name__})"
        ) from None
    except aiohttp.ClientError as exc:
        raise TransientDeliveryError(f"cannot reach the provider ({type(exc).__name__})") from None


def json_body(response: ProviderResponse) -> dict[str, Any]:
    """The response's JSON object, or {} when it is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after(response: ProviderResponse) -> float | None:
    """The `Retry-After` header in seconds, when it is a number."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def by_status(response: ProviderResponse, message: str, code: str | int | None) -> DeliveryError:
    """The default reading of an HTTP error: 429 and 5xx transient, other 4xx permanent."""
    if response.status_code == 429 or response.status_code >= 500:
        return TransientDeliveryError(message, code=code, retry_after=retry_after(response))
    return PermanentDeliveryError(message, code=code)
