"""The command line, run as a real process: init, migrate, errors as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_avisa(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `python -m avisa ARGS` with only the given AVISA_ variables set."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AVISA_")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "avisa", *args],
        env=base,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_DATABASE_URL": database_url}


def test_init_is_idempotent(cli_env: dict[str, str], tmp_path: Path) -> None:
    """The first init migrates and records the installation; the second changes nothing."""
    first = run_avisa("init", env=cli_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "migrated database to" in first.stdout
    second = run_avisa("init", env=cli_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "already initialised; nothing changed"


def test_migrate_then_status_in_sync(cli_env: dict[str, str], tmp_path: Path) -> None:
    before = run_avisa("migrate", "status", env=cli_env, cwd=tmp_path)
    assert before.returncode == 1
    assert "applied: (none)" in before.stdout
    assert "not applied" in before.stdout
    migrated = run_avisa("migrate", env=cli_env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("migrated: in sync at")
    again = run_avisa("migrate", env=cli_env, cwd=tmp_path)
    assert again.stdout.startswith("nothing to do: in sync at")
    after = run_avisa("migrate", "status", env=cli_env, cwd=tmp_path)
    assert after.returncode == 0
    assert "in sync at" in after.stdout


def test_default_init_uses_sqlite_under_dot_avisa(tmp_path: Path) -> None:
    """With nothing configured, init makes ./.avisa/avisa.db with a private data dir."""
    result = run_avisa("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".avisa" / "avisa.db").exists()
    assert (tmp_path / ".avisa").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AVISA_DATABASE_URL", "mysql://root@localhost/x"),
        ("AVISA_PORT", "99999"),
        ("AVISA_SMS_PROVIDER", "pigeon"),
        ("AVISA_DEFAULT_TIMEZONE", "Nowhere/Land"),
    ],
)
def test_invalid_configuration_is_one_line_and_exit_1(
    tmp_path: Path, variable: str, value: str
) -> None:
    result = run_avisa("init", env={variable: value}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: invalid {variable}:")
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {"AVISA_DATABASE_URL": "postgresql://avisa:hunter2secret@127.0.0.1:1/avisa"}
    result = run_avisa("migrate", "status", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "hunter2secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    result = run_avisa("no-such-command", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_help_lists_commands(tmp_path: Path) -> None:
    result = run_avisa("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("init", "migrate", "serve"):
        assert command in result.stdout


def test_loading_the_cli_leaves_the_web_stack_and_alembic_out() -> None:
    """Every `avisa worker` starts through the CLI: it must not carry FastAPI, uvicorn,
    Alembic or Prometheus (about a fifth of a worker's memory); the commands that need
    them import them when they run."""
    heavy = ["fastapi", "uvicorn", "alembic", "prometheus_client", "avisa.web"]
    code = f"import sys, avisa.cli; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
