"""The machine a benchmark ran on, recorded beside its figures."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.scratch import postgres_version


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (others share this machine)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine(pg_url: str) -> dict[str, Any]:
    """CPU model, CPUs, RAM, Python and PostgreSQL versions, date, commit and load now."""
    return {
        "cpu_model": _cpu_model(),
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "postgresql": postgres_version(pg_url),
        "os": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "load_average": load_average(),
    }
