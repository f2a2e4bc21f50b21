"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from avisa import __version__
from avisa.functions.registry import HttpFunctions, builtin_http_functions
from avisa.services import Services
from avisa.web import functions as functions_router
from avisa.web import health
from avisa.web import webhooks as webhooks_router
from avisa.web.api import appointments as appointments_api
from avisa.web.api import clients as clients_api
from avisa.web.api import cron as cron_api
from avisa.web.api import logs as logs_api
from avisa.web.api import vault as vault_api
from avisa.web.dashboard import install_dashboard
from avisa.web.errors import install_error_handlers
from avisa.web.http_metrics import HttpMetrics
from avisa.web.limits import BodySizeLimit
from avisa.web.metrics import metrics_registry
from avisa.web.metrics import router as metrics_router
from avisa.web.ratelimit import AuthFailureLimiter


def create_app(
    services: Services,
    *,
    own_services: bool = False,
    functions: HttpFunctions | None = None,
) -> FastAPI:
    """Build the HTTP application around `services`.

    With `own_services`, the app closes the services when it shuts down (what `avisa serve`
    wants); otherwise the caller keeps ownership (what tests want). `functions` replaces
    the built-in HTTP functions (tests register their own).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if own_services:
                services.close()

    app = FastAPI(
        title="avisa",
        version=__version__,
        description="Self-hosted appointment reminders: scheduler, vault, functions, delivery.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.http_functions = functions or builtin_http_functions()
    app.state.auth_limiter = AuthFailureLimiter(services.clock)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.state.metrics_registry = metrics_registry(services)
    app.add_middleware(HttpMetrics, registry=app.state.metrics_registry, clock=services.clock)
    app.include_router(health.router)
    app.include_router(functions_router.router)
    app.include_router(logs_api.router)
    app.include_router(vault_api.router)
    app.include_router(clients_api.router)
    app.include_router(appointments_api.router)
    app.include_router(cron_api.router)
    app.include_router(metrics_router)
    app.include_router(webhooks_router.router)
    install_dashboard(app, services)
    return app
