"""The engine factory and column types, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError
from sqlalchemy.pool import QueuePool

from avisa.config import load_settings
from avisa.db.engine import create_engine, is_sqlite
from avisa.db.types import JSONType, UTCDateTime

probe = sa.Table(
    "probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime),
    sa.Column("doc", JSONType),
)


@pytest.fixture
def probe_engine(engine: Engine) -> Engine:
    probe.create(engine)
    return engine


def test_instants_round_trip_aware_in_utc(probe_engine: Engine) -> None:
    """Any aware instant comes back equal, in UTC, on both backends."""
    madrid = timezone(timedelta(hours=2))
    written = datetime(2026, 6, 1, 10, 30, 15, 123456, tzinfo=madrid)
    with probe_engine.begin() as conn:
        conn.execute(sa.insert(probe).values(id=1, at=written, doc={"a": [1, "dos"]}))
    with probe_engine.connect() as conn:
        row = conn.execute(sa.select(probe)).one()
    assert row.at == written
    assert row.at.tzinfo is UTC
    assert row.doc == {"a": [1, "dos"]}


def test_instants_compare_in_sql_across_offsets(probe_engine: Engine) -> None:
    """Comparisons in SQL order instants correctly whatever offset they were given in."""
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with probe_engine.begin() as conn:
        for i in range(5):
            offset = timezone(timedelta(hours=i - 2))
            conn.execute(
                sa.insert(probe).values(id=i, at=(base + timedelta(minutes=i)).astimezone(offset))
            )
    with probe_engine.connect() as conn:
        ids = (
            conn.execute(
                sa.select(probe.c.id)
                .where(probe.c.at >= base + timedelta(minutes=2))
                .order_by(probe.c.at)
            )
            .scalars()
            .all()
        )
    assert ids == [2, 3, 4]


def test_naive_datetime_is_refused(probe_engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), probe_engine.begin() as conn:
        conn.execute(sa.insert(probe).values(id=1, at=datetime(2026, 1, 1)))  # noqa: DTZ001


def test_sqlite_pragmas(tmp_path: Path) -> None:
    """SQLite runs in WAL mode with foreign keys enforced and a busy timeout."""
    engine = create_engine(f"sqlite:///{tmp_path / 'private' / 'a.db'}")
    assert not (tmp_path / "private").exists(), "building an engine must not touch the disk"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
    engine.dispose()
    assert (tmp_path / "private").stat().st_mode & 0o077 == 0


def test_concurrent_read_modify_write_never_fails_with_locked(probe_engine: Engine) -> None:
    """Eight threads doing read-then-write transactions all succeed and lose no update."""
    with probe_engine.begin() as conn:
        conn.execute(sa.insert(probe).values(id=1, doc={"n": 0}))
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(25):
                with probe_engine.begin() as conn:
                    query = sa.select(probe.c.doc).where(probe.c.id == 1)
                    if not is_sqlite(conn):
                        query = query.with_for_update()
                    current = conn.execute(query).scalar_one()
                    conn.execute(
                        sa.update(probe).where(probe.c.id == 1).values(doc={"n": current["n"] + 1})
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with probe_engine.connect() as conn:
        assert conn.execute(sa.select(probe.c.doc)).scalar_one() == {"n": 200}


def test_the_pool_holds_at_most_pool_size_plus_overflow(make_settings: Any) -> None:
    """AVISA_DB_POOL_SIZE + AVISA_DB_MAX_OVERFLOW connections at once, on both backends; the
    next checkout waits for one to come back (here it gives up after pool_timeout)."""
    settings = make_settings(db_pool_size=2, db_max_overflow=1)
    engine = create_engine(settings, pool_timeout=0.2)
    try:
        with contextlib.ExitStack() as held:
            for _ in range(3):
                held.enter_context(engine.connect())
            with pytest.raises(sa.exc.TimeoutError):
                engine.connect()
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == 2
        assert pool.checkedin() == 2, "overflow connections are closed when returned"
    finally:
        engine.dispose()


def test_engines_from_a_url_keep_the_default_pool(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert (pool.size(), pool.overflow()) == (5, -5)
    engine.dispose()


def test_a_postgresql_server_that_never_answers_fails_the_connection(tmp_path: Path) -> None:
    """A host that accepts TCP and then says nothing (a hung server, a half-open
    partition): the connection attempt gives up after AVISA_DB_CONNECT_TIMEOUT instead of
    hanging a worker forever; the worker then backs off and retries."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever answers
    port = silent.getsockname()[1]
    settings = load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=f"postgresql://postgres@127.0.0.1:{port}/avisa",
        db_connect_timeout=2,
    )
    engine = create_engine(settings)
    started = time.monotonic()
    try:
        with pytest.raises(sa.exc.OperationalError):
            engine.connect()
        assert time.monotonic() - started < 30, "bounded by the connect timeout, not hung"
    finally:
        engine.dispose()
        silent.close()
