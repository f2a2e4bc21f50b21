"""Per-provider rate limits: at most N messages in any window of P seconds.

A sliding log of the last N grant times: the next grant is at the earliest when the N-th
previous one leaves the window. Grants are reserved under a lock and waited for outside
it, so every worker (task or thread) of a process that shares a `RateLimits` shares the
budget and the limit holds exactly. Separate processes each have their own budget (see
docs/decisions.md D5): give each process its share of the provider's limit.
"""

from __future__ import annotations

import threading
from collections import deque

from avisa.clock import Clock


class RateLimiter:
    """At most `limit` acquisitions in any `period` seconds of `clock`'s monotonic time."""

    def __init__(self, limit: int, period: float, clock: Clock) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        self._grants: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateLimiter({self.limit}/{self.period}s)"

    def reserve(self) -> float:
        """Reserve the next slot; returns how many seconds to wait before using it."""
        with self._lock:
            now = self.clock.monotonic()
            at = now
            if len(self._grants) == self.limit:
                at = max(now, self._grants[0] + self.period)
            if self._grants and at < self._grants[-1]:
                at = self._grants[-1]
            self._grants.append(at)
            return at - now

    async def acquire(self) -> None:
        """Wait until sending one more message keeps within the limit."""
        wait = self.reserve()
        if wait > 0:
            await self.clock.sleep(wait)


class RateLimits:
    """The limiters of one process, by provider name; providers without a limit pass."""

    def __init__(self, limits: dict[str, tuple[int, float]], clock: Clock) -> None:
        self._limiters = {name: RateLimiter(n, p, clock) for name, (n, p) in limits.items()}

    def __repr__(self) -> str:
        return f"RateLimits({sorted(self._limiters)})"

    def get(self, provider: str) -> RateLimiter | None:
        return self._limiters.get(provider)

    async def acquire(self, provider: str) -> None:
        limiter = self._limiters.get(provider)
        if limiter is not None:
            await limiter.acquire()
