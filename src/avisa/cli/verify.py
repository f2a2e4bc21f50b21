"""`avisa verify`: exit 0 when every check holds, 1 otherwise, naming each failure."""

from __future__ import annotations

import typer

from avisa.cli.context import command_services
from avisa.cli.output import echo_json
from avisa.verify import verify as run_checks


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)


def verify(as_json: bool = typer.Option(False, "--json")) -> None:
    """The operator's checklist: key, jobs, recent runs, logs, scheduler heartbeat."""
    with command_services() as services:
        checks = run_checks(services)
    failures = [c for c in checks if c.failed]
    if as_json:
        echo_json({"ok": not failures, "checks": [c.to_dict() for c in checks]})
    else:
        for check in checks:
            typer.echo(check.line())
        typer.echo("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    if failures:
        raise typer.Exit(1)
