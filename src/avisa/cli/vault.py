"""`avisa vault …` and `avisa keys`.

Values are read from standard input by default (or a hidden prompt on a terminal), so they
stay out of shell history and process listings; `--value` exists for scripts that accept
that risk.
"""

from __future__ import annotations

import sys

import typer

from avisa.cli.context import command_services
from avisa.cli.output import echo_json, echo_table
from avisa.errors import AvisaError

vault_app = typer.Typer(help="Encrypted secrets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(vault_app, name="vault")
    app.command("keys")(keys)


def _read_value(value: str | None, *, required: bool) -> str | None:
    """The value from `--value`, else stdin (a hidden prompt on a terminal)."""
    if value is not None:
        return value
    if sys.stdin is None:
        return None
    if sys.stdin.isatty():
        if not required:
            return None
        return str(typer.prompt("value", hide_input=True, confirmation_prompt=True))
    text = sys.stdin.read()
    # One trailing newline comes from `echo` or a here-string; it is not part of the value.
    text = text[:-1] if text.endswith("\n") else text
    if not text and not required:
        return None
    return text


@vault_app.command("create")
def create(
    name: str = typer.Argument(..., help="Secret name: 1-128 of A-Z a-z 0-9 _ . -"),
    description: str = typer.Option("", "--description", "-d"),
    value: str | None = typer.Option(None, "--value", help="The value (default: stdin)."),
) -> None:
    """Store a new secret; its value comes from stdin unless --value is given."""
    secret = _read_value(value, required=True) or ""
    with command_services() as services:
        secret_id = services.vault.with_actor("cli").create_secret(secret, name, description)
    typer.echo(f"created secret {name} ({secret_id})")


@vault_app.command("update")
def update(
    name: str = typer.Argument(..., help="Secret name or id."),
    value: str | None = typer.Option(None, "--value", help="New value (default: stdin)."),
    new_name: str | None = typer.Option(None, "--new-name"),
    description: str | None = typer.Option(None, "--description", "-d"),
    expected_version: int | None = typer.Option(
        None, "--expected-version", min=1, help="Update only if the secret is at this version."
    ),
) -> None:
    """Change a secret's value (new version), name or description."""
    only_metadata = new_name is not None or description is not None
    secret = _read_value(value, required=not only_metadata)
    with command_services() as services:
        meta = services.vault.with_actor("cli").update_secret(
            name, secret, new_name, description, expected_version
        )
    typer.echo(f"updated secret {meta.name}: version {meta.version}")


@vault_app.command("list")
def list_(
    all_: bool = typer.Option(False, "--all", help="Include deleted secrets."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Secret names and metadata; never values."""
    with command_services() as services:
        metas = services.vault.with_actor("cli").list_secrets(include_deleted=all_)
    if as_json:
        echo_json([m.to_dict() for m in metas])
        return
    rows = [
        (
            m.name,
            m.version,
            m.key_version,
            m.updated_at.strftime("%Y-%m-%d %H:%M:%SZ"),
            "deleted" if m.deleted_at else "",
            m.description,
        )
        for m in metas
    ]
    echo_table(("name", "version", "key", "updated", "state", "description"), rows, title="secrets")


@vault_app.command("get")
def get(
    name: str = typer.Argument(..., help="Secret name or id."),
    version: int | None = typer.Option(None, "--version", min=1),
) -> None:
    """Print a secret's value (audited)."""
    with command_services() as services:
        typer.echo(services.vault.with_actor("cli").get_secret(name, version))


@vault_app.command("delete")
def delete(
    name: str = typer.Argument(..., help="Secret name or id."),
    destroy: bool = typer.Option(
        False, "--destroy", help="Irreversibly remove every version instead of a soft delete."
    ),
) -> None:
    """Soft-delete a secret (restorable), or destroy it with --destroy."""
    with command_services() as services:
        vault = services.vault.with_actor("cli")
        if destroy:
            vault.destroy_secret(name)
            typer.echo(f"destroyed secret {name}")
        else:
            vault.delete_secret(name)
            typer.echo(f"deleted secret {name} (restore with `avisa vault restore {name}`)")


@vault_app.command("restore")
def restore(name: str = typer.Argument(..., help="Secret name or id.")) -> None:
    """Undo a soft delete."""
    with command_services() as services:
        services.vault.with_actor("cli").restore_secret(name)
    typer.echo(f"restored secret {name}")


@vault_app.command("rotate-key")
def rotate_key() -> None:
    """Add a new root key version, rewrap every data key with it, retire the old one."""
    with command_services() as services:
        report = services.vault.with_actor("cli").rotate_root_key()
    typer.echo(report.describe())


def keys(as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the anon and service_role keys."""
    with command_services() as services:
        found = services.service_keys.keys()
    if not found:
        raise AvisaError("no service keys in the vault", fix="run `avisa init`")
    if as_json:
        echo_json(found)
        return
    for role, token in found.items():
        typer.echo(f"{role}: {token}")
