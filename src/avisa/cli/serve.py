"""`avisa serve`: the HTTP API, with the scheduler in-process unless `--no-worker`."""

from __future__ import annotations

import typer
import uvicorn

from avisa.cli.context import settings_for_command
from avisa.cron.runtime import SchedulerThread, build_scheduler
from avisa.services import build_services
from avisa.web import create_app


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: str | None = typer.Option(None, help="Bind address (default AVISA_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default AVISA_PORT)."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="HTTP only: leave scheduling to `avisa worker` processes."
    ),
) -> None:
    """Run the HTTP API on AVISA_HOST:AVISA_PORT (and the scheduler) until interrupted."""
    settings = settings_for_command()
    services = build_services(settings)
    application = create_app(services)
    # The scheduler gets its own thread and event loop: HTTP load never delays a tick.
    scheduler = None if no_worker else SchedulerThread(build_scheduler(services, kind="serve"))
    try:
        if scheduler is not None:
            scheduler.start()
        uvicorn.run(
            application,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        # Stop scheduling before the engine goes: runs in flight finish or are recorded.
        if scheduler is not None:
            scheduler.stop()
        services.close()
