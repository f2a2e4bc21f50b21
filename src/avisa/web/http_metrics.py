"""Counting HTTP requests for `/metrics`: by method, route template and status.

The route label is the matched route's template (`/api/v1/cron/jobs/{name}`), never the
raw path, so label sets stay bounded whatever URLs clients send; anything unmatched is
`unmatched`. Counters live in the app's own registry, one per process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avisa.clock import Clock

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """ASGI middleware recording each HTTP request's outcome and duration."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        self.requests = Counter(
            "avisa_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "avisa_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route template.",
            ["method", "route"],
            registry=registry,
            buckets=BUCKETS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock.monotonic()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None)
            label = str(template) if template else "unmatched"
            method = str(scope.get("method", "GET"))
            self.requests.labels(method, label, str(status)).inc()
            self.duration.labels(method, label).observe(self.clock.monotonic() - started)
