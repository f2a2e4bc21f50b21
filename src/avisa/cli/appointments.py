"""`avisa appointments import FILE.csv`: bulk upsert of appointments by `external_id`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from avisa.cli.context import command_services
from avisa.cli.output import echo_json, echo_table
from avisa.domain.csv_import import count_rows, import_csv

appointments_app = typer.Typer(help="Appointments.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(appointments_app, name="appointments")


@appointments_app.command("import")
def import_(
    path: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV with a header line."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row, write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Create or update appointments from a CSV file, one per row, upserting by external_id.

    Columns are the API's appointment fields (external_id, client_id, service, staff,
    location, starts_at, ends_at, timezone, status, total_amount, paid_amount, currency)
    and, for an inline client, client_name, client_email, client_phone, client_whatsapp,
    client_locale, client_timezone, client_channels, client_opt_out. Rows that fail
    validation are reported and skipped; anything else rolls the whole file back. Exits 1
    when a row was rejected.
    """
    total = count_rows(path)
    console = Console(stderr=True)
    with (
        command_services() as services,
        path.open(newline="", encoding="utf-8-sig") as source,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json or not console.is_terminal,
        ) as progress,
    ):
        task = progress.add_task("rows", total=total)
        report = import_csv(
            services.engine,
            services.settings,
            source,
            services.clock.now(),
            dry_run=dry_run,
            progress=lambda n: progress.advance(task, n),
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        typer.echo(report.message())
        if report.rejected:
            echo_table(
                ("line", "external_id", "reason"),
                [(r.line, r.external_id or "", r.reason) for r in report.rejected],
                title="rejected rows",
            )
    if report.rejected:
        raise typer.Exit(1)
