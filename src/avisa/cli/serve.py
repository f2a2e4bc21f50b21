"""`avisa serve`: the HTTP API, with the scheduler and the delivery worker in-process
unless `--no-worker`.

uvicorn and the web app are imported when `serve` runs, not when the CLI loads: every
`avisa worker` process starts through the CLI and needs neither (about 24 MiB each).
"""

from __future__ import annotations

import signal

import typer

from avisa.cli.context import settings_for_command
from avisa.cron.runtime import SchedulerThread, build_scheduler
from avisa.delivery.runtime import DeliveryThread, build_delivery_worker
from avisa.services import build_services


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
    import uvicorn  # noqa: PLC0415 (see the module docstring)

    from avisa.web import create_app  # noqa: PLC0415 (see the module docstring)

    settings = settings_for_command()
    services = build_services(settings)
    application = create_app(services)
    # The scheduler gets its own thread and event loop: HTTP load never delays a tick.
    scheduler = None if no_worker else SchedulerThread(build_scheduler(services, kind="serve"))
    # So does delivery; a provider missing its settings stops the start here, in one line.
    delivery = None if no_worker else DeliveryThread(build_delivery_worker(services))
    try:
        if scheduler is not None:
            scheduler.start()
        if delivery is not None:
            delivery.start()
        # uvicorn handles SIGTERM (a graceful shutdown), then raises it again for whoever
        # handled it before: without a handler of ours that second one would kill the
        # process before the `finally` below stops the scheduler and delivery cleanly.
        signal.signal(signal.SIGTERM, lambda *_: None)
        uvicorn.run(
            application,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            access_log=False,
        )
    finally:
        # Stop scheduling and delivery before the engine goes: work in flight finishes
        # or is recorded (an interrupted send's lease makes it claimable again).
        if scheduler is not None:
            scheduler.stop()
        if delivery is not None:
            delivery.stop()
        services.close()
