"""Throwaway databases for tests: a SQLite file or a fresh PostgreSQL database.

PostgreSQL comes from `AVISA_TEST_DATABASE_URL` (default: the local server, user postgres,
trust auth). Each test gets its own database, dropped afterwards, so LISTEN/NOTIFY channels
and sequences never leak between tests. When no server answers, PostgreSQL tests skip with
the reason, unless `AVISA_TEST_REQUIRE_POSTGRES=1` turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL, make_url

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pg_admin_url() -> URL:
    return make_url(os.environ.get("AVISA_TEST_DATABASE_URL", DEFAULT_PG_URL))


def require_postgres() -> bool:
    return os.environ.get("AVISA_TEST_REQUIRE_POSTGRES") == "1"


def _conninfo(url: URL, database: str | None = None) -> str:
    return url.set(drivername="postgresql", database=database or url.database).render_as_string(
        hide_password=False
    )


@cache
def postgres_unavailable_reason() -> str | None:
    """None when the test server answers, else why not (checked once per session)."""
    try:
        with psycopg.connect(_conninfo(pg_admin_url()), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        url = pg_admin_url().render_as_string(hide_password=True)
        return f"PostgreSQL not reachable at {url}: {first_line}"


def skip_or_fail_without_postgres() -> None:
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if require_postgres():
        pytest.fail(f"AVISA_TEST_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a new empty PostgreSQL database; yield its URL; drop it afterwards."""
    skip_or_fail_without_postgres()
    admin = pg_admin_url()
    name = f"avisa_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(_conninfo(admin), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
