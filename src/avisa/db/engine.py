"""Engine factory for SQLite and PostgreSQL.

SQLite is tuned for a service shared by several threads and processes: WAL journal, foreign
keys on, a busy timeout, and `BEGIN IMMEDIATE` for every transaction so that two writers
queue on the busy timeout instead of failing with "database is locked" when a read lock is
upgraded. PostgreSQL goes through psycopg 3 with pre-ping, so a restarted server costs one
failed checkout, not a crash.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import OperationalError

from avisa.config import Settings, normalize_database_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: SQLAlchemy's own defaults, kept for engines built from a bare URL (tests, tools).
DEFAULT_POOL_SIZE = 5
DEFAULT_MAX_OVERFLOW = 10
#: Seconds a new PostgreSQL connection may take (AVISA_DB_CONNECT_TIMEOUT).
DEFAULT_CONNECT_TIMEOUT = 10


def create_engine(target: Settings | URL | str, **kwargs: Any) -> Engine:
    """Build the engine for `target` (settings, a URL or a URL string).

    The connection pool holds `AVISA_DB_POOL_SIZE` connections and opens up to
    `AVISA_DB_MAX_OVERFLOW` more under load (5 and 10 when `target` is not settings); a new
    PostgreSQL connection gives up after `AVISA_DB_CONNECT_TIMEOUT` seconds (10);
    `kwargs` override any engine option. A SQLite file's folder is created if missing.
    The caller owns transactions: nothing here commits on its own.
    """
    pool: dict[str, Any] = {"pool_size": DEFAULT_POOL_SIZE, "max_overflow": DEFAULT_MAX_OVERFLOW}
    connect_timeout = DEFAULT_CONNECT_TIMEOUT
    if isinstance(target, Settings):
        url = target.database
        pool = {"pool_size": target.db_pool_size, "max_overflow": target.db_max_overflow}
        connect_timeout = target.db_connect_timeout
    elif isinstance(target, URL):
        url = normalize_database_url(target.render_as_string(hide_password=False))
    else:
        url = normalize_database_url(target)
    options = pool | kwargs
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, **options)
    if "connect_timeout" not in url.query:  # a URL's own setting wins
        options["connect_args"] = {"connect_timeout": connect_timeout} | options.get(
            "connect_args", {}
        )
    return sa.create_engine(url, **({"pool_pre_ping": True} | options))


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "do_connect")
    def _make_folder(*_args: Any) -> None:
        # On first connect, not at creation: building an engine must not touch the disk.
        # The folder holds the root key too, so it is private to its owner.
        if url.database:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" hook below; pysqlite's own
        # implicit BEGIN is deferred and would defeat the busy timeout on lock upgrades.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_sqlite(bind: Engine | sa.Connection) -> bool:
    """True when `bind` talks to SQLite (used where the dialects need different SQL)."""
    return bind.dialect.name == "sqlite"


def ping(engine: Engine) -> None:
    """Run `SELECT 1`; raises SQLAlchemy's error when the database is unreachable."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def describe_operational_error(exc: OperationalError) -> str:
    """One line for a database that cannot be reached or used; never the password or SQL."""
    original = exc.orig if exc.orig is not None else exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    reason = lines[0] if lines else type(original).__name__
    reason = re.sub(r"password=\S+", "password=***", reason)
    return f"database error: {reason} (check AVISA_DATABASE_URL and that the server is up)"
