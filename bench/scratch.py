"""Scratch databases for the benchmarks: a fresh SQLite file or a PostgreSQL database
created for one measurement and dropped afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
#: Where scratch PostgreSQL databases are created (any database on the server will do);
#: the second name is the one `bench.reminders` read first.
PG_URL_ENVS = ("AVISA_BENCH_PG_URL", "AVISA_BENCH_DATABASE_URL")


def default_pg_url() -> str:
    """`AVISA_BENCH_PG_URL` (or `AVISA_BENCH_DATABASE_URL`), else the local server."""
    return next((os.environ[n] for n in PG_URL_ENVS if os.environ.get(n)), DEFAULT_PG_URL)


def _conninfo(pg_url: str) -> str:
    return make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_database(backend: str, pg_url: str) -> Iterator[str]:
    """A new empty database on `backend` ("sqlite" or "postgresql"), removed afterwards.

    Yields its URL (`sqlite:///…` or `postgresql://…`, passwords included).
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="avisa-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    admin = make_url(pg_url).set(drivername="postgresql")
    name = f"avisa_bench_{uuid.uuid4().hex[:12]}"
    conninfo = _conninfo(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def postgres_reachable(pg_url: str) -> bool:
    """Whether a connection to `pg_url` opens within 3 seconds."""
    try:
        with psycopg.connect(_conninfo(pg_url), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def postgres_version(pg_url: str) -> str | None:
    """The server's `server_version`, or None when it cannot be reached."""
    try:
        with psycopg.connect(_conninfo(pg_url), connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return None
    return str(row[0]) if row else None


def backends(choice: str, pg_url: str) -> list[str]:
    """The backends `choice` ("sqlite", "postgresql" or "both") names that can be measured
    here; PostgreSQL is left out, with a line saying so, when its server is unreachable."""
    chosen = ["sqlite", "postgresql"] if choice == "both" else [choice]
    if "postgresql" in chosen and not postgres_reachable(pg_url):
        print(f"PostgreSQL not reachable at {make_url(pg_url)!r}: measuring SQLite only")
        chosen.remove("postgresql")
    return chosen
