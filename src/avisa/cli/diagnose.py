"""`avisa diagnose`: the installation's problems, each with its fix."""

from __future__ import annotations

import typer

from avisa.cli.context import command_services
from avisa.cli.output import echo_json


def register(app: typer.Typer) -> None:
    app.command("diagnose")(diagnose)


def diagnose(as_json: bool = typer.Option(False, "--json")) -> None:
    """Check root key, secrets, database, migrations and providers; exit 1 on a failure."""
    # Imported here: it loads Alembic, which `avisa worker` (started through the CLI) does
    # not need.
    from avisa.diagnose import diagnose as run_diagnosis  # noqa: PLC0415

    with command_services() as services:
        checks = run_diagnosis(services)
    if as_json:
        echo_json([c.to_dict() for c in checks])
    else:
        for check in checks:
            typer.echo(check.line())
    failures = [c for c in checks if c.failed]
    if failures:
        if not as_json:
            typer.echo(f"{len(failures)} problem(s) found", err=True)
        raise typer.Exit(1)
