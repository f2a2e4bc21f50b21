"""Printing helpers shared by commands: plain lines, tables and `--json` listings."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def echo_json(data: Any) -> None:
    """Print `data` as JSON (datetimes and other objects as strings)."""
    typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def echo_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
) -> None:
    """Print a table to stdout; an empty listing prints a short line instead."""
    if not rows:
        typer.echo(f"no {title or 'rows'}")
        return
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if cell is None else str(cell) for cell in row])
    # Off a terminal rich assumes 80 columns; a pipe or a file gets full lines instead.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    console.print(table)
