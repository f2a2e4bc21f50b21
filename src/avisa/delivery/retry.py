"""When to try a failed notification again: exponential backoff with jitter, bounded."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass
class RetryPolicy:
    """Attempt n (1-based) that failed transiently waits about `base * 2**(n-1)`, capped.

    "Equal jitter": half the delay is fixed and half random, so retries of a batch that
    failed together spread out without ever retrying immediately. A provider's
    `Retry-After` hint is honoured when it is longer.
    """

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    rng: random.Random = field(default_factory=random.Random)

    def exhausted(self, attempts: int) -> bool:
        """True when `attempts` made so far leave no retry."""
        return attempts >= self.max_attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1 for the first)."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** (attempt - 1))
        seconds = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.cap.total_seconds()))
        return timedelta(seconds=seconds)
