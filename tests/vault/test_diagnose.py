"""`avisa diagnose`: each problem is found and comes with its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from avisa.db.tables.vault import vault_secrets
from avisa.services import Services
from tests.support.cli import invoke


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_DATABASE_URL": database_url}
    assert invoke("init", env=env).returncode == 0
    return env


def _checks(env: dict[str, str]) -> tuple[int, dict[str, dict[str, str]]]:
    result = invoke("diagnose", "--json", env=env)
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)}


def test_a_fresh_install_is_healthy_but_for_the_missing_server(env: dict[str, str]) -> None:
    """Nothing listens on AVISA_PUBLIC_URL here: that is the one problem reported."""
    code, checks = _checks(env)
    assert code == 1
    assert [name for name, c in checks.items() if c["verdict"] == "fail"] == ["public URL"]
    assert checks["public URL"]["fix"] == (
        "start `avisa serve`, or set AVISA_PUBLIC_URL to where it listens"
    )
    assert checks["job secrets"]["verdict"] == "ok"
    assert checks["database"]["verdict"] == "ok"
    assert checks["migrations"]["verdict"] == "ok"
    assert checks["root key permissions"]["detail"] == "mode 0600"
    assert checks["secrets decrypt"]["detail"] == "all 3 stored versions decrypt"
    assert checks["root key versions"]["detail"].startswith("keyring holds [1]; database uses [1]")
    assert checks["sms"]["verdict"] == "warn"


def test_loose_key_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "data" / "root.key").chmod(0o640)
    code, checks = _checks(env)
    assert code == 1
    assert checks["root key permissions"]["fix"] == f"chmod 600 {tmp_path / 'data' / 'root.key'}"


def test_missing_key_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "data" / "root.key").unlink()
    code, checks = _checks(env)
    assert code == 1
    assert checks["root key source"]["verdict"] == "fail"
    assert "restore the key file" in checks["root key source"]["fix"]


def test_a_corrupt_secret_is_named(env: dict[str, str], services: Services) -> None:
    """Uses the fixture's installation: flip a byte of one secret and diagnose finds it."""
    with services.engine.begin() as conn:
        blob = conn.execute(
            sa.select(vault_secrets.c.ciphertext).where(vault_secrets.c.name == "ANON_KEY")
        ).scalar_one()
        conn.execute(
            sa.update(vault_secrets)
            .where(vault_secrets.c.name == "ANON_KEY")
            .values(ciphertext=blob[:-1] + bytes([blob[-1] ^ 1]))
        )
    settings = services.settings
    code, checks = _checks(
        {
            "AVISA_DATA_DIR": str(settings.data_dir),
            "AVISA_DATABASE_URL": settings.database.render_as_string(hide_password=False),
        }
    )
    assert code == 1
    assert checks["secrets decrypt"]["detail"].startswith(
        "1 of 3 versions do not decrypt: ANON_KEY v1"
    )


def test_providers_without_configuration(env: dict[str, str]) -> None:
    env = {
        **env,
        "AVISA_SMS_PROVIDER": "twilio",
        "AVISA_EMAIL_PROVIDER": "smtp",
        "AVISA_SMTP_URL": "smtp://user@127.0.0.1:2525",
        "AVISA_EMAIL_FROM": "clinic@example.com",
        "AVISA_WHATSAPP_PROVIDER": "meta",
        "AVISA_META_PHONE_NUMBER_ID": "1234",
    }
    code, checks = _checks(env)
    assert code == 1
    assert checks["sms"]["detail"] == "AVISA_TWILIO_ACCOUNT_SID, AVISA_TWILIO_FROM not set"
    assert checks["email"]["detail"] == "vault secret SMTP_PASSWORD is missing"
    assert checks["whatsapp"]["fix"] == "avisa vault create WHATSAPP_ACCESS_TOKEN"


def test_unreachable_database(tmp_path: Path) -> None:
    result = invoke(
        "diagnose", env={"AVISA_DATABASE_URL": "postgresql://avisa:pw@127.0.0.1:1/avisa"}
    )
    assert result.returncode == 1
    assert result.stdout.startswith(
        "FAIL database: postgresql+psycopg://avisa:***@127.0.0.1:1/avisa:"
    )
