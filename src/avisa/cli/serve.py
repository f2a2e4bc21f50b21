"""`avisa serve`: the HTTP API (and, with the scheduler, the background workers)."""

from __future__ import annotations

import typer
import uvicorn

from avisa.cli.context import settings_for_command
from avisa.services import build_services
from avisa.web import create_app


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str | None = typer.Option(None, help="Bind address (default AVISA_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default AVISA_PORT)."),
) -> None:
    """Run the HTTP API on AVISA_HOST:AVISA_PORT until interrupted."""
    settings = settings_for_command()
    services = build_services(settings)
    application = create_app(services, own_services=True)
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
    )
