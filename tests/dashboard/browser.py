"""Debian's Chromium for the browser tests: found at /usr/bin/chromium, or the tests skip
with the reason, unless `AVISA_TEST_REQUIRE_CHROMIUM=1` makes that a failure (as
tests/support/databases.py does for PostgreSQL). Playwright's own browser downloads are
never used: the wheel's driver talks to the system Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("AVISA_TEST_CHROMIUM", "/usr/bin/chromium"))
#: Headless, no sandbox (containers), and nothing that phones home during a test.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> Path:
    """The Chromium executable; skips (or fails, when required) if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("AVISA_TEST_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"AVISA_TEST_REQUIRE_CHROMIUM=1 but {reason}")
    pytest.skip(reason)
