"""`avisa init` and `avisa migrate [status]`.

Alembic and the setup steps are imported when these commands run, not when the CLI loads:
every `avisa worker` process starts through the CLI and needs neither.
"""

from __future__ import annotations

import typer

from avisa.cli.context import command_services
from avisa.errors import DatabaseError

migrate_app = typer.Typer(help="Database migrations.", invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(migrate_app, name="migrate")


def init() -> None:
    """Create the data dir, migrate, and set up keys and default jobs (idempotent)."""
    from avisa.setup import initialise  # noqa: PLC0415 (see the module docstring)

    with command_services() as services:
        report = initialise(services)
    if not report.changes:
        typer.echo("already initialised; nothing changed")
        return
    for change in report.changes:
        typer.echo(change)


@migrate_app.callback()
def migrate_upgrade(ctx: typer.Context) -> None:
    """Upgrade the database to the latest schema (`avisa migrate status` to compare)."""
    if ctx.invoked_subcommand is not None:
        return
    from avisa.db import migrate  # noqa: PLC0415 (see the module docstring)

    with command_services() as services:
        before = migrate.status(services.engine)
        if before.unknown:
            raise DatabaseError(before.describe(), fix="run a newer avisa against this database")
        if before.in_sync:
            typer.echo(f"nothing to do: {before.describe()}")
            return
        migrate.upgrade(services.engine)
        typer.echo(f"migrated: {migrate.status(services.engine).describe()}")


@migrate_app.command("status")
def migrate_status() -> None:
    """Print applied and local revisions; exit 1 unless they are in sync."""
    from avisa.db import migrate  # noqa: PLC0415 (see the module docstring)

    with command_services() as services:
        state = migrate.status(services.engine)
    typer.echo(f"applied: {', '.join(state.applied) or '(none)'}")
    typer.echo(f"local:   {', '.join(state.heads)}")
    typer.echo(state.describe())
    if not state.in_sync:
        raise typer.Exit(1)
