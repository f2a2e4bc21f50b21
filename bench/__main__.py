"""`python -m bench` (`make bench`): every benchmark, each printing a table and JSON.

Each entry runs with its defaults; run a module alone for its options
(`python -m bench.lateness --help`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import delivery, lateness, reminders

BENCHMARKS: list[tuple[str, Callable[[list[str] | None], int]]] = [
    ("tick lateness (scheduler vs APScheduler 3)", lateness.main),
    ("reminder sweep and status update (vs bare SQL)", reminders.main),
    ("delivery throughput (vs a bare httpx client)", delivery.main),
]


def main() -> int:
    worst = 0
    for title, run in BENCHMARKS:
        print(f"== {title}", flush=True)
        worst = max(worst, run([]))
    return worst


if __name__ == "__main__":
    sys.exit(main())
