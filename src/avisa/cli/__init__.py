"""The `avisa` command line.

Every command prints errors as one line on stderr and exits 1 (usage errors exit 2); a
traceback appears only with `--debug`.
"""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError

from avisa.cli import (
    appointments,
    cron,
    dashboard,
    db,
    demo,
    diagnose,
    functions,
    serve,
    vault,
    verify,
)
from avisa.db.engine import describe_operational_error
from avisa.errors import AvisaError

app = typer.Typer(
    name="avisa",
    help="Self-hosted appointment reminders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
) -> None:
    """avisa: scheduler, vault, HTTP functions and reminder delivery in one program."""


appointments.register(app)
cron.register(app)
db.register(app)
serve.register(app)
vault.register(app)
diagnose.register(app)
functions.register(app)
verify.register(app)
dashboard.register(app)
demo.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every error into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # Standalone mode: click prints usage errors itself (exit 2) and exits through
        # SystemExit; everything else propagates here.
        app(args=args, prog_name="avisa")
    except AvisaError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OperationalError as exc:
        if debug:
            raise
        typer.echo(f"error: {describe_operational_error(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        typer.echo(
            f"error: unexpected {type(exc).__name__}; rerun with --debug for details",
            err=True,
        )
        sys.exit(1)
