"""Per-provider rate limits: at most N messages in any window of P seconds.

A sliding log of the last N grant times: a grant is given only when the N-th previous one
has left the window, checked and recorded under a lock, so every worker (task or thread)
of a process that shares a `RateLimits` shares the budget and the limit holds exactly.
Separate processes each have their own budget (see docs/decisions.md D5): give each
process its share of the provider's limit.
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

    def try_acquire(self) -> float:
        """Take a slot now if the window allows: returns 0.0, or the seconds to wait
        before trying again (nothing is taken then)."""
        with self._lock:
            now = self.clock.monotonic()
            if len(self._grants) == self.limit:
                wait = self._grants[0] + self.period - now
                if wait > 0:
                    return wait
            self._grants.append(now)
            return 0.0

    async def acquire(self) -> float:
        """Wait until one more message keeps within the limit; returns seconds waited.

        The grant is recorded at the instant it is given, so the limit holds for the
        times at which senders actually go ahead, however late their wake-ups are.
        """
        start = self.clock.monotonic()
        while (wait := self.try_acquire()) > 0:
            await self.clock.sleep(wait)
        return self.clock.monotonic() - start


class RateLimits:
    """The limiters of one process, by provider name; providers without a limit pass."""

    def __init__(self, limiters: dict[str, RateLimiter] | None = None) -> None:
        self._limiters = dict(limiters or {})

    @classmethod
    def configured(cls, limits: dict[str, tuple[int, float]], clock: Clock) -> RateLimits:
        """From `AVISA_RATE_LIMITS`: {provider: (messages, period in seconds)}."""
        return cls({name: RateLimiter(n, p, clock) for name, (n, p) in limits.items()})

    def __repr__(self) -> str:
        return f"RateLimits({sorted(self._limiters)})"

    def get(self, provider: str) -> RateLimiter | None:
        return self._limiters.get(provider)

    async def acquire(self, provider: str) -> float:
        """Wait for `provider`'s limit; returns the seconds waited."""
        limiter = self._limiters.get(provider)
        return 0.0 if limiter is None else await limiter.acquire()
