"""A long-running coroutine on its own thread and event loop, stoppable from another thread.

`avisa serve` runs the scheduler and the delivery worker this way beside uvicorn's loop, so
tick lateness and sends never compete with HTTP requests for an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class LoopThread:
    """Runs `run(stop)` on a daemon thread with a fresh event loop until `stop` is set.

    A crash is logged as `crash_event` and ends the thread; the HTTP side stays up, and
    the heartbeats, `/metrics` and `avisa verify` show what stopped (readiness is about
    HTTP only: decision O7).
    """

    def __init__(
        self, name: str, run: Callable[[asyncio.Event], Awaitable[None]], crash_event: str
    ) -> None:
        self._run = run
        self._crash_event = crash_event
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30) -> None:
        """Ask the loop to stop (work in flight gets its grace), then join."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._run(self._stop)

        try:
            asyncio.run(main())
        except Exception:
            log.exception(self._crash_event)
        finally:
            self._ready.set()
