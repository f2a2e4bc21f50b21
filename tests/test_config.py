"""Configuration: defaults, parsing, and one clear line for every invalid variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from avisa.config import load_settings, offset_label, parse_offset
from avisa.errors import ConfigError


def test_defaults_match_the_design() -> None:
    """With nothing set, avisa runs on SQLite under ./.avisa with console providers."""
    settings = load_settings(_env_file=None)
    assert settings.data_dir == Path(".avisa")
    assert settings.database.render_as_string() == "sqlite:///.avisa/avisa.db"
    assert settings.root_key_path == Path(".avisa/root.key")
    assert settings.public_url == "http://127.0.0.1:8000"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.reminder_offsets == (timedelta(hours=24), timedelta(hours=1))
    assert (settings.default_timezone, settings.default_locale) == ("UTC", "es")
    assert settings.email_provider == "console"
    assert settings.sms_provider == "console"
    assert settings.whatsapp_provider == "console"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """`AVISA_` variables override defaults; postgresql:// is pinned to psycopg 3."""
    monkeypatch.setenv("AVISA_DATABASE_URL", "postgresql://app@db.internal:5432/avisa")
    monkeypatch.setenv("AVISA_PORT", "9000")
    monkeypatch.setenv("AVISA_REMINDER_OFFSETS", "1h, 2d ,30m")
    settings = load_settings(_env_file=None)
    assert settings.database.drivername == "postgresql+psycopg"
    assert settings.database.database == "avisa"
    assert settings.port == 9000
    assert settings.reminder_offsets == (
        timedelta(days=2),
        timedelta(hours=1),
        timedelta(minutes=30),
    )


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `.env` in the working directory is read; the environment wins over it."""
    (tmp_path / ".env").write_text("AVISA_PORT=8123\nAVISA_HOST=0.0.0.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AVISA_HOST", "127.0.0.2")
    settings = load_settings()
    assert settings.port == 8123
    assert settings.host == "127.0.0.2"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AVISA_DATABASE_URL", "mysql://root@localhost/avisa", "unsupported database 'mysql'"),
        ("AVISA_DATABASE_URL", "not a url", "is not a database URL"),
        ("AVISA_DATABASE_URL", "sqlite://", "needs a file path"),
        ("AVISA_DATABASE_URL", "postgresql://localhost", "needs a database name"),
        ("AVISA_PORT", "70000", "less than or equal to 65535"),
        ("AVISA_PORT", "0", "greater than or equal to 1"),
        ("AVISA_PORT", "eighty", "valid integer"),
        ("AVISA_EMAIL_PROVIDER", "pigeon", "'console' or 'smtp'"),
        ("AVISA_SMS_PROVIDER", "smoke", "'console' or 'twilio'"),
        ("AVISA_WHATSAPP_PROVIDER", "fax", "'console', 'twilio' or 'meta'"),
        ("AVISA_DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("AVISA_DEFAULT_LOCALE", "fr", "'es' or 'en'"),
        ("AVISA_REMINDER_OFFSETS", "24h,soon", "'soon' is not a positive duration"),
        ("AVISA_REMINDER_OFFSETS", "0h", "'0h' is not a positive duration"),
        ("AVISA_PUBLIC_URL", "ftp://example", "is not an http(s) URL"),
        ("AVISA_LOG_FORMAT", "xml", "'auto', 'human' or 'json'"),
        ("AVISA_DB_POOL_SIZE", "0", "greater than or equal to 1"),
        ("AVISA_DB_POOL_SIZE", "five", "valid integer"),
        ("AVISA_DB_MAX_OVERFLOW", "-1", "greater than or equal to 0"),
        ("AVISA_DB_MAX_OVERFLOW", "5000", "less than or equal to 1000"),
    ],
)
def test_invalid_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    """Every invalid variable stops with one line: the variable's name and the problem."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings(_env_file=None)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"invalid {variable}:")
    assert expected in message


@pytest.mark.parametrize(
    ("text", "delta", "label"),
    [
        ("24h", timedelta(hours=24), "24h"),
        ("1h", timedelta(hours=1), "1h"),
        ("90m", timedelta(minutes=90), "90m"),
        ("2d", timedelta(days=2), "2d"),
        (" 45s ", timedelta(seconds=45), "45s"),
        ("120m", timedelta(hours=2), "2h"),
    ],
)
def test_offsets_parse_and_label(text: str, delta: timedelta, label: str) -> None:
    assert parse_offset(text) == delta
    assert offset_label(delta) == label


@pytest.mark.parametrize("text", ["", "h", "-1h", "1.5h", "1w", "24 hours"])
def test_bad_offsets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a positive duration"):
        parse_offset(text)


def test_pool_settings_default_to_sqlalchemys_and_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process pools 5 connections and opens up to 10 more unless told otherwise."""
    defaults = load_settings(_env_file=None)
    assert (defaults.db_pool_size, defaults.db_max_overflow) == (5, 10)
    monkeypatch.setenv("AVISA_DB_POOL_SIZE", "3")
    monkeypatch.setenv("AVISA_DB_MAX_OVERFLOW", "0")
    settings = load_settings(_env_file=None)
    assert (settings.db_pool_size, settings.db_max_overflow) == (3, 0)
