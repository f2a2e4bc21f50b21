"""Waking workers when jobs change, so a computed sleep never misses a new or moved tick.

PostgreSQL: every job change NOTIFYs `avisa_cron_jobs` in its transaction; a thread holds a
LISTEN connection and wakes the worker's loop. SQLite has no notifications: the worker
polls the one-row `cron_state.jobs_version` marker every `poll_interval` seconds (an
indexed single-row read). Either way ticks themselves never wait on this: the worker
sleeps exactly until the next `next_run_at`, and this only re-arms that sleep.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable

import psycopg
import structlog
from sqlalchemy.engine import Engine

from avisa.cron.store import JOBS_CHANNEL
from avisa.db.engine import is_sqlite

log = structlog.get_logger(__name__)

#: How often a SQLite worker checks the jobs-changed marker.
SQLITE_POLL_INTERVAL = 1.0


class ChangeWatcher:
    """Calls `on_change` (from any thread) when jobs may have changed. Start, then stop."""

    def __init__(
        self,
        engine: Engine,
        on_change: Callable[[], None],
        *,
        poll_interval: float = SQLITE_POLL_INTERVAL,
    ) -> None:
        self.engine = engine
        self.on_change = on_change
        self.poll_interval = poll_interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"ChangeWatcher({self.engine.dialect.name})"

    def start(self) -> None:
        """Begin watching; must be called from the worker's running event loop."""
        if is_sqlite(self.engine):
            self._task = asyncio.get_running_loop().create_task(self._poll())
        else:
            self._thread = threading.Thread(
                target=self._listen, name="avisa-cron-listen", daemon=True
            )
            self._thread.start()

    async def stop(self) -> None:
        self._stopped.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    async def _poll(self) -> None:
        seen: int | None = None
        # A connection of its own in autocommit: a plain read in WAL mode takes no lock,
        # where the engine's transactions begin IMMEDIATE and would queue the claims.
        path = self.engine.url.database or ""
        reader = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopped.is_set():
                try:
                    version = await asyncio.to_thread(_read_version, reader)
                except sqlite3.Error as exc:  # retried next poll; the loop reports DB errors
                    log.debug("cron_change_poll_failed", error_class=type(exc).__name__)
                else:
                    if seen is not None and version != seen:
                        self.on_change()
                    seen = version
                await asyncio.sleep(self.poll_interval)
        finally:
            reader.close()

    def _listen(self) -> None:
        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        delay = 1.0
        while not self._stopped.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    delay = 1.0
                    # Changes made while we were not listening are unseen: re-arm once.
                    self.on_change()
                    while not self._stopped.is_set():
                        for _notify in conn.notifies(timeout=0.5):
                            self.on_change()
            except psycopg.Error as exc:
                # The server is restarting or gone: reconnect, backing off to 30 s.
                log.warning("cron_listen_failed", error_class=type(exc).__name__, retry_in=delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, 30.0)


def _read_version(reader: sqlite3.Connection) -> int:
    row = reader.execute("SELECT jobs_version FROM cron_state WHERE id = 1").fetchone()
    return int(row[0]) if row else 0
