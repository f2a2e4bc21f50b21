"""The status updater: overdue appointments close once, with completed_at, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.db.tables import appointments
from avisa.domain import StatusSummary, update_statuses
from avisa.domain.appointments import get_appointment
from avisa.domain.notifications import notifications_of
from avisa.errors import ConfigError
from tests.domain.conftest import MakeAppointment

M = timedelta(minutes=1)
H = timedelta(hours=1)


def test_overdue_appointments_close_after_the_grace_period(
    migrated_engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    make_appointment: MakeAppointment,
) -> None:
    """confirmed -> completed (completed_at = ends_at), scheduled -> no_show, once."""
    confirmed = make_appointment(2 * H, status="confirmed")
    scheduled = make_appointment(2 * H)
    within_grace = make_appointment(2 * H + 20 * M, status="confirmed")
    cancelled = make_appointment(H)
    with migrated_engine.begin() as conn:
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == cancelled.id)
            .values(status="cancelled")
        )
    # The first two end at 2h30; the third at 2h50. At 2h46 only the first two are past
    # their end plus 15 minutes of grace.
    later = clock.now() + 2 * H + 46 * M

    summary = update_statuses(migrated_engine, settings, later)

    assert isinstance(summary, StatusSummary)
    assert summary.transitions == {"confirmed->completed": 1, "scheduled->no_show": 1}
    with migrated_engine.connect() as conn:
        done = get_appointment(conn, confirmed.id)
        missed = get_appointment(conn, scheduled.id)
        waiting = get_appointment(conn, within_grace.id)
        untouched = get_appointment(conn, cancelled.id)
        pending_left = [n for n in notifications_of(conn, scheduled.id) if n.status == "pending"]
    assert (done.status, done.completed_at) == ("completed", confirmed.ends_at)
    assert (missed.status, missed.completed_at) == ("no_show", None)
    assert waiting.status == "confirmed"
    assert untouched.status == "cancelled"
    assert pending_left == []

    again = update_statuses(migrated_engine, settings, later)
    assert again.transitions == {"confirmed->completed": 0, "scheduled->no_show": 0}
    assert again.cancelled == {}


def test_pending_reminders_of_closed_appointments_are_cancelled_with_the_status(
    migrated_engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    make_appointment: MakeAppointment,
) -> None:
    booked = make_appointment(3 * H, status="confirmed")
    summary = update_statuses(migrated_engine, settings, clock.now() + 4 * H)
    with migrated_engine.connect() as conn:
        reasons = {(n.status, n.reason) for n in notifications_of(conn, booked.id)}
    assert reasons == {("cancelled", "completed")}
    assert summary.cancelled == {"completed": 4}


def test_summary_reports_counts_as_json_and_one_line(
    migrated_engine: Engine,
    settings: Settings,
    clock: FrozenClock,
    make_appointment: MakeAppointment,
) -> None:
    make_appointment(H, status="confirmed")  # booked late: two 1h reminders pending
    summary = update_statuses(migrated_engine, settings, clock.now() + 2 * H)
    assert summary.to_dict() == {
        "updated": 1,
        "transitions": {"confirmed->completed": 1, "scheduled->no_show": 0},
        "notifications_cancelled": {
            "rescheduled": 0,
            "cancelled": 0,
            "completed": 2,
            "no_show": 0,
        },
        "now": "2026-03-02T11:00:00+00:00",
        "ended_before": "2026-03-02T10:45:00+00:00",
    }
    assert summary.message() == (
        "updated 1 appointment (confirmed->completed 1), cancelled 2 pending notifications"
    )


def test_mapping_is_configurable(
    migrated_engine: Engine,
    make_settings: Callable[..., Settings],
    clock: FrozenClock,
    make_appointment: MakeAppointment,
) -> None:
    """A business that treats unconfirmed visits as done maps scheduled to completed."""
    settings = make_settings(status_mapping="scheduled:completed", status_grace="1h")
    booked = make_appointment(H)
    assert update_statuses(migrated_engine, settings, clock.now() + 2 * H).updated == 0
    summary = update_statuses(migrated_engine, settings, clock.now() + 2 * H + 30 * M)
    assert summary.transitions == {"scheduled->completed": 1}
    with migrated_engine.connect() as conn:
        assert get_appointment(conn, booked.id).completed_at == booked.ends_at


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("confirmed:done", "is not a transition like confirmed:completed"),
        ("completed:no_show", "is not a transition like confirmed:completed"),
        ("confirmed:completed,confirmed:no_show", "'confirmed' is mapped twice"),
    ],
)
def test_bad_mapping_is_refused_naming_the_variable(
    make_settings: Callable[..., Settings], value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="AVISA_STATUS_MAPPING") as info:
        make_settings(status_mapping=value)
    assert message in str(info.value)
