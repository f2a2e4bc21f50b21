"""`avisa dashboard password`: set the dashboard's admin password (stored hashed).

The web stack is imported when the command runs, not when the CLI loads: every
`avisa worker` process starts through the CLI and must not carry FastAPI.
"""

from __future__ import annotations

import sys

import typer

from avisa.cli.context import command_services

dashboard_app = typer.Typer(help="The web dashboard.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard_app, name="dashboard")


@dashboard_app.command("password")
def password() -> None:
    """Set the admin password from stdin (a hidden prompt on a terminal).

    Only its scrypt hash is kept, in vault secret DASHBOARD_ADMIN_PASSWORD_HASH. The
    service key keeps working as a login too.
    """
    from avisa.web.dashboard.passwords import MIN_LENGTH, set_admin_password  # noqa: PLC0415 (see the module docstring)

    if sys.stdin is not None and sys.stdin.isatty():
        text = str(typer.prompt("admin password", hide_input=True, confirmation_prompt=True))
    else:
        text = (sys.stdin.read() if sys.stdin is not None else "").rstrip("\n")
    if not text:
        raise typer.BadParameter(f"give a password of at least {MIN_LENGTH} characters on stdin")
    with command_services() as services:
        replaced = set_admin_password(services.vault.with_actor("cli"), text)
    typer.echo("admin password changed" if replaced else "admin password set")
