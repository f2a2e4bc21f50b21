"""`avisa demo`: fill sample clients and appointments to watch the whole flow."""

from __future__ import annotations

import typer

from avisa.cli.context import command_services
from avisa.demo import create_demo


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo() -> None:
    """Sample clients (es/en, several time zones) whose reminders fall due within minutes.

    Run `avisa serve`, then this, and watch /dashboard/reminders. Running it again moves
    the same appointments to fresh times.
    """
    with command_services() as services:
        report = create_demo(services)
    typer.echo(report.message())
    typer.echo(f"watch them at {services.settings.public_url}/dashboard/reminders")
