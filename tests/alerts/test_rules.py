"""The alerting rules, table-driven: once per period, reminders only for new failures,
recovery only for an announced failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from avisa.alerts.rules import AlertKind, Observation, StoredState, decide

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def stored(
    state: str,
    *,
    notified: bool = False,
    last_alert_at: datetime | None = None,
    alerted: str | None = None,
    marker: str | None = None,
) -> StoredState:
    return StoredState(
        subject="job:x",
        state=state,
        since=T0,
        detail="d",
        failure_marker=marker,
        alerted_marker=alerted,
        notified=notified,
        last_alert_at=last_alert_at,
        last_alert_kind=None,
        last_error=None,
        version=1,
    )


FAIL = Observation("job:x", True, "run 7 failed", "run:7")
FAIL_NEW = Observation("job:x", True, "run 8 failed", "run:8")
OK = Observation("job:x", False, "run 9 succeeded")
#: The failure already stored (same marker, same text).
FAIL_SAME = Observation("job:x", True, "d", "run:7")

CASES = [
    # (stored, seen, minutes after T0, expected alert kind or None, writes)
    pytest.param(None, OK, 0, None, True, id="first-seen-ok-is-recorded-silently"),
    pytest.param(None, FAIL, 0, AlertKind.failure, True, id="first-seen-failing-alerts"),
    pytest.param(stored("ok"), OK, 5, None, False, id="still-ok-writes-nothing"),
    pytest.param(stored("ok"), FAIL, 5, AlertKind.failure, True, id="starts-failing"),
    pytest.param(
        stored("ok", last_alert_at=T0), FAIL, 30, None, True, id="failing-again-within-period"
    ),
    pytest.param(
        stored("ok", last_alert_at=T0), FAIL, 61, AlertKind.failure, True, id="after-period"
    ),
    pytest.param(
        stored("failing", notified=True, last_alert_at=T0, alerted="run:7", marker="run:7"),
        FAIL_SAME,
        120,
        None,
        False,
        id="same-failure-is-not-repeated",
    ),
    pytest.param(
        stored("failing", notified=True, last_alert_at=T0, alerted="run:7", marker="run:7"),
        FAIL_NEW,
        30,
        None,
        True,
        id="new-failure-within-period-is-quiet",
    ),
    pytest.param(
        stored("failing", notified=True, last_alert_at=T0, alerted="run:7", marker="run:7"),
        FAIL_NEW,
        61,
        AlertKind.failure,
        True,
        id="new-failure-after-period-reminds",
    ),
    pytest.param(
        stored("failing", notified=False, last_alert_at=T0, marker="run:7"),
        FAIL,
        61,
        AlertKind.failure,
        True,
        id="unannounced-failure-announced-after-period",
    ),
    pytest.param(
        stored("failing", notified=True, last_alert_at=T0, alerted="run:7"),
        OK,
        1,
        AlertKind.recovery,
        True,
        id="announced-failure-recovers",
    ),
    pytest.param(
        stored("failing", notified=False, last_alert_at=T0),
        OK,
        1,
        None,
        True,
        id="unannounced-failure-recovers-silently",
    ),
]


@pytest.mark.parametrize(("before", "seen", "minutes", "kind", "writes"), CASES)
def test_rules(
    before: StoredState | None,
    seen: Observation,
    minutes: int,
    kind: AlertKind | None,
    writes: bool,
) -> None:
    decision = decide(before, seen, T0 + timedelta(minutes=minutes), HOUR)
    assert (decision.alert.kind if decision.alert else None) == kind
    assert (decision.values is not None) == writes


def test_reminder_is_marked_repeated() -> None:
    """A second alert for one ongoing failure says it is still failing."""
    before = stored("failing", notified=True, last_alert_at=T0, alerted="run:7")
    decision = decide(before, FAIL_NEW, T0 + 2 * HOUR, HOUR)
    assert decision.alert is not None
    assert decision.alert.repeated
    assert decision.alert.title == "STILL FAILING: job:x"
