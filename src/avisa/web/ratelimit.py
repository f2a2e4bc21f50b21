"""Refuse an address for a while after repeated authentication failures (HTTP 429).

In memory, per process: enough to make guessing keys slow against one process, which is
what a brute-force attempt meets; behind a load balancer each process limits on its own.
"""

from __future__ import annotations

import threading
from collections import deque

from avisa.clock import Clock


class AuthFailureLimiter:
    """After `max_failures` failures within `window` seconds, block for `block` seconds."""

    def __init__(
        self, clock: Clock, max_failures: int = 10, window: float = 60.0, block: float = 60.0
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._block = block
        self._failures: dict[str, deque[float]] = {}
        self._blocked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int | None:
        """Seconds to wait if `address` is blocked now, else None."""
        now = self._clock.monotonic()
        with self._lock:
            until = self._blocked_until.get(address)
            if until is None:
                return None
            if now >= until:
                del self._blocked_until[address]
                return None
            return max(1, int(until - now + 0.999))

    def record_failure(self, address: str) -> None:
        now = self._clock.monotonic()
        with self._lock:
            window = self._failures.setdefault(address, deque())
            window.append(now)
            while window and window[0] <= now - self._window:
                window.popleft()
            if len(window) >= self._max:
                self._blocked_until[address] = now + self._block
                window.clear()
            if len(self._failures) > 10_000:  # bound memory under a spray of addresses
                self._failures = {k: v for k, v in self._failures.items() if v}

    def record_success(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
