"""The few SQL pieces that differ between SQLite and PostgreSQL, behind one spelling.

- `insert_or_skip`: INSERT … ON CONFLICT (key) DO NOTHING, the unique key deciding who wins;
- `shifted(instant, seconds)`: an instant column moved by a whole number of seconds;
- `json_list_has(column, value)`: whether a JSON list column contains a string.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from avisa.db.types import UTCDateTime
from avisa.domain.validation import InvalidFieldError


def insert_or_skip(bind: sa.Connection, table: sa.Table, key: Sequence[sa.Column[Any]]) -> Insert:
    """An INSERT into `table` that silently skips rows whose `key` already exists."""
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(key))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(key))


class shifted(sa.sql.functions.FunctionElement[datetime]):  # noqa: N801  (reads as SQL)
    """`instant + seconds` for a `UTCDateTime` column and a constant number of seconds.

    SQLite stores instants as `YYYY-MM-DD HH:MM:SS.ffffff` text, which sorts correctly
    only while every value has that exact shape; `datetime()` would drop the fraction, so
    the seconds part is shifted and the original fraction appended.
    """

    type = UTCDateTime()
    inherit_cache = True
    name = "shifted"

    def __init__(self, instant: sa.ColumnElement[datetime], seconds: int) -> None:
        super().__init__(instant, sa.literal_column(str(int(seconds))))


@compiles(shifted, "postgresql")
def _shifted_pg(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    instant, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({instant} + {seconds} * interval '1 second')"


@compiles(shifted, "sqlite")
def _shifted_sqlite(element: shifted, compiler: SQLCompiler, **kw: Any) -> str:
    instant, seconds = list(element.clauses)
    column = compiler.process(instant, **kw)
    amount = int(compiler.process(seconds, **kw))
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {column}, '{amount:+d} seconds') || substr({column}, 20))"
    )


class json_list_has(sa.sql.functions.FunctionElement[bool]):  # noqa: N801  (reads as SQL)
    """True when the JSON list in `column` contains the string `value`."""

    type = sa.Boolean()
    inherit_cache = True
    name = "json_list_has"

    def __init__(self, column: sa.ColumnElement[Any], value: sa.ColumnElement[str]) -> None:
        super().__init__(column, value)


@compiles(json_list_has, "postgresql")
def _json_list_has_pg(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = list(element.clauses)
    return (
        f"({compiler.process(column, **kw)} @> jsonb_build_array({compiler.process(value, **kw)}))"
    )


@compiles(json_list_has, "sqlite")
def _json_list_has_sqlite(element: json_list_has, compiler: SQLCompiler, **kw: Any) -> str:
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    # Both parts are compiled SQL expressions (a column and a bound or literal value).
    return f"EXISTS (SELECT 1 FROM json_each({column}) AS j WHERE j.value = {value})"  # noqa: S608


def encode_cursor(*values: Any) -> str:
    """An opaque pagination cursor holding `values` (JSON-able, datetimes as ISO text)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def cursor_id(value: Any) -> int:
    """A row id read from a cursor; InvalidFieldError unless a plausible id."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2_147_483_647:
        return value
    raise InvalidFieldError("cursor", "not a cursor this API returned")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The values of a cursor made by `encode_cursor`; InvalidFieldError if tampered with."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise InvalidFieldError("cursor", "not a cursor this API returned") from None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidFieldError("cursor", "not a cursor this API returned")
    return values
