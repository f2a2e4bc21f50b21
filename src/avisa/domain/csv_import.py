"""Importing appointments from CSV: upsert by `external_id`, one report, no half imports.

The whole file is one transaction and each row its own savepoint: a row that fails
validation is rolled back alone (an inline client it created included) and reported with
its reason, while any other failure rolls back the entire file. With `dry_run`, every row
is checked and the transaction is rolled back at the end.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError
from sqlalchemy.engine import Engine

from avisa.config import Settings
from avisa.domain.appointments import create_appointment
from avisa.domain.schemas import AppointmentCreate
from avisa.errors import AvisaError

#: CSV columns: appointment fields as in the API, the inline client's as `client_<field>`.
APPOINTMENT_COLUMNS = (
    "external_id", "client_id", "service", "staff", "location", "starts_at", "ends_at",
    "timezone", "status", "total_amount", "paid_amount", "currency",
)  # fmt: skip
CLIENT_COLUMNS = (
    "client_name", "client_email", "client_phone", "client_whatsapp", "client_locale",
    "client_timezone", "client_channels", "client_opt_out",
)  # fmt: skip
REQUIRED_COLUMNS = ("service", "starts_at", "ends_at")


@dataclass(frozen=True)
class Rejection:
    line: int
    external_id: str | None
    reason: str


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would have done)."""

    created: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "rejected": [r.__dict__ for r in self.rejected],
            "dry_run": self.dry_run,
        }

    def message(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{verb}: {self.created} created, {self.updated} updated, {len(self.rejected)} rejected"
        )


class CsvFormatError(AvisaError):
    """The file is not a CSV avisa can read (no header, unknown or missing columns)."""


def count_rows(path: Path) -> int:
    """Data rows in the file (for a progress bar); quoted newlines are handled."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def import_csv(
    engine: Engine,
    settings: Settings,
    source: TextIO,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Create or update one appointment per CSV row; see the module docstring.

    Raises CsvFormatError for an unreadable header before writing anything; database
    errors propagate after rolling everything back.
    """
    reader = csv.DictReader(source)
    _check_header(reader.fieldnames)
    report = ImportReport(dry_run=dry_run)
    with engine.connect() as conn, conn.begin() as transaction:
        for line, row in _rows(reader):
            try:
                data = appointment_from_row(row)
                with conn.begin_nested():
                    _, created = create_appointment(conn, data, settings, now)
            except ValidationError as exc:
                reason = describe_validation(exc)
                report.rejected.append(Rejection(line, row.get("external_id") or None, reason))
            except AvisaError as exc:
                report.rejected.append(Rejection(line, row.get("external_id") or None, str(exc)))
            else:
                if created:
                    report.created += 1
                else:
                    report.updated += 1
            if progress is not None:
                progress(1)
        if dry_run:
            transaction.rollback()
    return report


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        # The line where the row ends, as an editor shows it (the header is line 1).
        yield reader.line_num, row


def _check_header(columns: Sequence[str] | None) -> None:
    if not columns:
        raise CsvFormatError("the file is empty: expected a header line with column names")
    known = set(APPOINTMENT_COLUMNS) | set(CLIENT_COLUMNS)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise CsvFormatError(
            f"unknown column(s): {', '.join(unknown)}",
            fix=f"use {', '.join(APPOINTMENT_COLUMNS + CLIENT_COLUMNS)}",
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if "client_id" not in columns and "client_name" not in columns:
        missing.append("client_id or client_name")
    if missing:
        raise CsvFormatError(f"missing column(s): {', '.join(missing)}")


def appointment_from_row(row: dict[str, str]) -> AppointmentCreate:
    """The API body a CSV row stands for; empty cells are absent values.

    Raises pydantic's ValidationError like the API does (see `describe_validation`).
    """
    values: dict[str, Any] = {
        k: v.strip() for k, v in row.items() if k in APPOINTMENT_COLUMNS and v and v.strip()
    }
    client: dict[str, Any] = {
        k.removeprefix("client_"): v.strip()
        for k, v in row.items()
        if k in CLIENT_COLUMNS and v and v.strip()
    }
    for name in ("channels", "opt_out"):
        if name in client:
            client[name] = [c.strip() for c in client[name].replace(";", ",").split(",")]
    if client.get("whatsapp", "").lower() in ("yes", "true", "1"):
        client["whatsapp"] = True
    if "client_id" not in values and client:
        values["client"] = client
    return AppointmentCreate.model_validate(values)


def describe_validation(exc: ValidationError) -> str:
    """`invalid <field>: <problem>` for the first problem, as the API's 422 says it."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    return f"invalid {where}: {first['msg']}"
