"""Time arithmetic in SQL, one spelling for SQLite and PostgreSQL: bucket an instant by
hour or day (as an integer count since the epoch), and the seconds between two instants.

SQLite keeps `UTCDateTime` as `YYYY-MM-DD HH:MM:SS.ffffff` text, which its date functions
read directly; PostgreSQL has `timestamptz` and `extract(epoch …)`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

HOUR = 3600
DAY = 86400


def bucket(engine: Engine, column: sa.ColumnElement[Any], size: int) -> sa.ColumnElement[int]:
    """`floor(epoch seconds of column / size)` as an integer."""
    if engine.dialect.name == "sqlite":
        epoch: sa.ColumnElement[Any] = sa.cast(sa.func.strftime("%s", column), sa.Integer)
        return sa.cast(epoch / size, sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column) / size), sa.Integer)


def seconds_between(
    engine: Engine, start: sa.ColumnElement[Any], end: sa.ColumnElement[Any]
) -> sa.ColumnElement[float]:
    """`end - start` in (fractional) seconds."""
    if engine.dialect.name == "sqlite":
        return sa.cast((sa.func.julianday(end) - sa.func.julianday(start)) * DAY, sa.Float)
    return sa.cast(sa.extract("epoch", end - start), sa.Float)


def bucket_start(index: int, size: int) -> datetime:
    return datetime.fromtimestamp(index * size, UTC)
