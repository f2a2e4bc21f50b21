"""`avisa vault …` and `avisa keys` as real processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import invoke as run_avisa


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_DATABASE_URL": database_url}
    assert run_avisa("init", env=env, cwd=tmp_path).returncode == 0
    return env


def test_create_from_stdin_get_update_list(env: dict[str, str], tmp_path: Path) -> None:
    created = run_avisa("vault", "create", "SMTP_PASSWORD", "-d", "relay", env=env, stdin="pw1\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created secret SMTP_PASSWORD (")
    got = run_avisa("vault", "get", "SMTP_PASSWORD", env=env)
    assert got.stdout == "pw1\n"
    updated = run_avisa("vault", "update", "SMTP_PASSWORD", env=env, stdin="pw2")
    assert updated.stdout.strip() == "updated secret SMTP_PASSWORD: version 2"
    described = run_avisa("vault", "update", "SMTP_PASSWORD", "-d", "new words", env=env)
    assert described.stdout.strip() == "updated secret SMTP_PASSWORD: version 2"
    assert run_avisa("vault", "get", "SMTP_PASSWORD", "--version", "1", env=env).stdout == "pw1\n"
    listing = run_avisa("vault", "list", "--json", env=env)
    items = {item["name"]: item for item in json.loads(listing.stdout)}
    assert items["SMTP_PASSWORD"]["description"] == "new words"
    assert "pw2" not in listing.stdout
    table = run_avisa("vault", "list", env=env)
    assert "SMTP_PASSWORD" in table.stdout
    assert "pw2" not in table.stdout


def test_delete_restore_destroy_and_rotate(env: dict[str, str]) -> None:
    run_avisa("vault", "create", "X", "--value", "v", env=env)
    assert "restore with" in run_avisa("vault", "delete", "X", env=env).stdout
    gone = run_avisa("vault", "get", "X", env=env)
    assert gone.returncode == 1
    assert (
        gone.stderr
        == "error: secret 'X' is deleted (fix: restore it with `avisa vault restore X`)\n"
    )
    assert run_avisa("vault", "restore", "X", env=env).returncode == 0
    rotated = run_avisa("vault", "rotate-key", env=env)
    assert rotated.stdout.startswith("root key rotated to version 2;")
    assert run_avisa("vault", "get", "X", env=env).stdout == "v\n"
    assert run_avisa("vault", "delete", "X", "--destroy", env=env).stdout == "destroyed secret X\n"


def test_keys_prints_both_keys(env: dict[str, str]) -> None:
    result = run_avisa("keys", "--json", env=env)
    keys = json.loads(result.stdout)
    assert set(keys) == {"anon", "service_role"}
    assert all(token.count(".") == 2 for token in keys.values())


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("vault", "create", "bad name"), "v", "error: invalid secret name 'bad name'"),
        (("vault", "create", "EMPTY"), "", "error: a secret value cannot be empty"),
        (("vault", "create", "JWT_SECRET"), "v", "error: secret 'JWT_SECRET' already exists"),
        (("vault", "get", "MISSING"), "", "error: no secret named 'MISSING'"),
        (("vault", "update", "MISSING"), "v", "error: no secret named 'MISSING'"),
        (("vault", "update", "JWT_SECRET"), "", "error: a secret value cannot be empty"),
        (("vault", "delete", "MISSING"), "", "error: no secret named 'MISSING'"),
        (
            ("vault", "restore", "JWT_SECRET"),
            "",
            "error: secret 'JWT_SECRET' is already not deleted",
        ),
        (
            ("vault", "update", "JWT_SECRET", "--expected-version", "7"),
            "v",
            "error: secret 'JWT_SECRET' is at version 1, not 7",
        ),
    ],
)
def test_errors_are_one_line(
    env: dict[str, str], args: tuple[str, ...], stdin: str, message: str
) -> None:
    result = run_avisa(*args, env=env, stdin=stdin)
    assert result.returncode == 1
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("vault", "get", "X", "--version", "0"),
        ("vault", "update", "X", "--expected-version", "zero"),
        ("vault", "create"),
        ("vault", "frobnicate"),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: tuple[str, ...]) -> None:
    assert run_avisa(*args, env=env).returncode == 2


def test_sealed_vault_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "data" / "root.key").unlink()
    result = run_avisa("vault", "get", "JWT_SECRET", env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("error: vault is sealed: no root key")
    assert "Traceback" not in result.stderr
