"""The chaos suite's short form, in CI: every fault scenario on a PostgreSQL server of the
suite's own, with four `avisa worker` processes and one `avisa serve --no-worker`.

`make chaos` runs the same scenarios at full size (500 ticks, 20,000 messages).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chaos.__main__ import line, run, table
from chaos.scenarios import SCENARIOS, SHORT

from chaos import pgserver
from tests.support.databases import require_postgres

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1200)
def test_no_fault_loses_a_tick_or_a_message(tmp_path: Path) -> None:
    reason = pgserver.unavailable_reason()
    if reason is not None:
        if require_postgres():
            pytest.fail(f"AVISA_TEST_REQUIRE_POSTGRES=1 but the chaos suite cannot run: {reason}")
        pytest.skip(reason)
    results = run(list(SCENARIOS), SHORT, tmp_path, seed=7)
    # The counts of every scenario, in the failure message (run() prints them as well).
    report = "\n".join(line(result) for result in results) + "\n" + table(results)
    assert [r.name for r in results if not r.ok] == [], report
    assert sum(r.expected for r in results) > 0
