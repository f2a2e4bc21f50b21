"""`avisa appointments import`: upsert by external_id, rejections with reasons, all or nothing
on failure, and the command itself run as a real process."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from avisa import cli
from avisa.cli import context as cli_context
from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.db.tables import appointments, clients, notifications
from avisa.domain import appointments as appointments_service
from avisa.domain.csv_import import CsvFormatError, import_csv

HEADER = (
    "external_id,client_name,client_email,client_phone,service,starts_at,ends_at,timezone,"
    "total_amount,paid_amount,currency\n"
)
GOOD = [
    "ext-1,Ana,ana@example.com,600123456,Corte,2026-03-10T10:00,2026-03-10T10:30,Europe/Madrid,20,20,EUR\n",
    "ext-2,Luis,luis@example.com,,Tinte,2026-03-11T10:00:00+00:00,2026-03-11T11:00:00+00:00,,45.50,0,\n",
]
BAD = [
    # paid above total, and an inline client that must not survive the rejection
    "ext-3,Eva,eva@example.com,,Corte,2026-03-12T10:00,2026-03-12T10:30,,10,15,EUR\n",
    # a phone number that is no number
    "ext-4,Pau,,12,Corte,2026-03-12T10:00,2026-03-12T10:30,,,,\n",
]


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in (appointments, clients, notifications)
        )


def test_import_creates_updates_and_reports_rejections_with_reasons(
    migrated_engine: Engine, make_settings: Any, clock: FrozenClock
) -> None:
    settings: Settings = make_settings()
    text = HEADER + "".join(GOOD + BAD)
    report = import_csv(migrated_engine, settings, io.StringIO(text), clock.now())
    assert (report.created, report.updated) == (2, 0)
    assert [(r.line, r.external_id, r.reason) for r in report.rejected] == [
        (4, "ext-3", "invalid paid_amount: 15 is more than total_amount 10"),
        (5, "ext-4", "invalid client.phone: '12' is not a valid phone number"),
    ]
    # Two appointments, their two clients (not Eva's), reminders planned at import
    # (Ana: 2 kinds x email and sms; Luis: 2 kinds x email).
    assert counts(migrated_engine) == (2, 2, 6)

    moved = GOOD[0].replace(
        "2026-03-10T10:00,2026-03-10T10:30", "2026-03-10T12:00,2026-03-10T13:00"
    )
    again = import_csv(
        migrated_engine, settings, io.StringIO(HEADER + moved + GOOD[1]), clock.now()
    )
    assert (again.created, again.updated, again.rejected) == (0, 2, [])
    with migrated_engine.connect() as conn:
        start = conn.execute(
            sa.select(appointments.c.starts_at).where(appointments.c.external_id == "ext-1")
        ).scalar_one()
    assert start.isoformat() == "2026-03-10T11:00:00+00:00"  # 12:00 in Madrid
    assert counts(migrated_engine) == (2, 2, 10)  # 4 rescheduled ones kept, 4 new


def test_any_unexpected_failure_rolls_back_the_whole_file(
    migrated_engine: Engine,
    make_settings: Any,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = appointments_service.create_appointment
    calls = 0

    def failing_on_second_row(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr("avisa.domain.csv_import.create_appointment", failing_on_second_row)
    with pytest.raises(RuntimeError, match="disk full"):
        import_csv(
            migrated_engine, make_settings(), io.StringIO(HEADER + "".join(GOOD)), clock.now()
        )
    assert counts(migrated_engine) == (0, 0, 0)


def test_dry_run_checks_every_row_and_writes_nothing(
    migrated_engine: Engine, make_settings: Any, clock: FrozenClock
) -> None:
    text = HEADER + "".join(GOOD + BAD)
    report = import_csv(
        migrated_engine, make_settings(), io.StringIO(text), clock.now(), dry_run=True
    )
    assert (report.created, len(report.rejected)) == (2, 2)
    assert report.message() == "would import: 2 created, 0 updated, 2 rejected"
    assert counts(migrated_engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("", "the file is empty"),
        ("service,starts_at,ends_at,client_nmae\n", "unknown column(s): client_nmae"),
        ("client_name,service,starts_at\n", "missing column(s): ends_at"),
    ],
)
def test_unreadable_headers_are_refused_before_anything_is_written(
    migrated_engine: Engine, make_settings: Any, clock: FrozenClock, header: str, problem: str
) -> None:
    with pytest.raises(CsvFormatError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        import_csv(migrated_engine, make_settings(), io.StringIO(header), clock.now())


def test_the_command_prints_a_summary_and_exits_1_on_rejections(
    migrated_engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process through Typer (a subprocess per call costs seconds of imports)."""
    # Logging setup would keep a handler on the runner's captured stderr after the test.
    monkeypatch.setattr(cli_context, "configure_logging", lambda *_a, **_k: None)
    env = {"AVISA_DATA_DIR": str(tmp_path / "data"), "AVISA_DATABASE_URL": database_url}
    runner = CliRunner()
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(GOOD))
    first = runner.invoke(cli.app, ["appointments", "import", str(good)], env=env)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "imported: 2 created, 0 updated, 0 rejected"
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(HEADER + "".join(GOOD + BAD))
    second = runner.invoke(cli.app, ["appointments", "import", "--json", str(mixed)], env=env)
    assert second.exit_code == 1
    report = json.loads(second.stdout)
    assert (report["created"], report["updated"], len(report["rejected"])) == (0, 2, 2)
    table = runner.invoke(cli.app, ["appointments", "import", str(mixed)], env=env)
    assert "invalid client.phone: '12' is not a valid phone number" in table.stdout
    missing = runner.invoke(cli.app, ["appointments", "import", str(tmp_path / "no.csv")], env=env)
    assert missing.exit_code == 2
