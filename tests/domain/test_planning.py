"""The planning rules, as a pure function: one table row per rule, every skip with a reason."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from avisa.domain.model import (
    AppointmentRecord,
    AppointmentStatus,
    Channel,
    ClientRecord,
    NotificationRecord,
    NotificationStatus,
    Reason,
)
from avisa.domain.planning import Cancellation, plan, reminder_kinds

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
KINDS = reminder_kinds([24 * H, H])
MIN_LEAD = 10 * M

CLIENT = ClientRecord(
    id=1,
    name="Ana",
    email="ana@example.com",
    phone="+34600123456",
    whatsapp=None,
    locale="es",
    timezone="Europe/Madrid",
    channels=(Channel.email,),
    opt_out=frozenset(),
    created_at=NOW,
    updated_at=NOW,
)


def appointment(
    starts_in: timedelta, status: AppointmentStatus = AppointmentStatus.scheduled
) -> AppointmentRecord:
    start = NOW + starts_in
    return AppointmentRecord(
        id=7,
        client_id=1,
        service="Corte",
        staff=None,
        location=None,
        starts_at=start,
        ends_at=start + 30 * M,
        timezone="Europe/Madrid",
        status=status,
        total_amount=Decimal(0),
        paid_amount=Decimal(0),
        currency="EUR",
        external_id=None,
        confirmed_at=None,
        cancelled_at=None,
        completed_at=None,
        created_at=NOW,
        updated_at=NOW,
    )


def notification(
    id_: int, kind: str, start: datetime, status: NotificationStatus, reason: str | None = None
) -> NotificationRecord:
    return NotificationRecord(
        id=id_,
        appointment_id=7,
        client_id=1,
        kind=kind,
        channel=Channel.email,
        recipient="ana@example.com",
        status=status,
        due_at=start - H,
        planned_start=start,
        attempts=0,
        next_attempt_at=None,
        last_error=None,
        provider=None,
        provider_message_id=None,
        sent_at=None,
        delivered_at=None,
        reason=reason,
        created_at=NOW,
        updated_at=NOW,
    )


P, S = NotificationStatus.pending, NotificationStatus.skipped

# (starts in, {kind: (status, reason, due_at relative to NOW)})
BOOKING_CASES = {
    "booked days ahead: each reminder at start minus its offset": (
        72 * H,
        {"reminder_24h": (P, None, 48 * H), "reminder_1h": (P, None, 71 * H)},
    ),
    "booked exactly 24h ahead: the 24h reminder is due now": (
        24 * H,
        {"reminder_24h": (P, None, 0 * H), "reminder_1h": (P, None, 23 * H)},
    ),
    "booked 5h ahead: 24h is late but 1h is not due yet, so 24h goes at once": (
        5 * H,
        {"reminder_24h": (P, None, 0 * H), "reminder_1h": (P, None, 4 * H)},
    ),
    "booked 1h ahead: 1h is due now, so 24h is superseded": (
        H,
        {"reminder_24h": (S, Reason.superseded, -23 * H), "reminder_1h": (P, None, 0 * H)},
    ),
    "booked 50 min ahead: 24h superseded, 1h sent late at once": (
        50 * M,
        {
            "reminder_24h": (S, Reason.superseded, -(23 * H + 10 * M)),
            "reminder_1h": (P, None, 0 * H),
        },
    ),
    "booked exactly min lead ahead: the smallest reminder still goes": (
        10 * M,
        {
            "reminder_24h": (S, Reason.superseded, -(24 * H - 10 * M)),
            "reminder_1h": (P, None, 0 * H),
        },
    ),
    "booked under min lead ahead: the smallest reminder is too late": (
        9 * M,
        {
            "reminder_24h": (S, Reason.superseded, -(24 * H - 9 * M)),
            "reminder_1h": (S, Reason.too_late, -(H - 9 * M)),
        },
    ),
    "already started: nothing to remind": (-5 * M, {}),
}


@pytest.mark.parametrize(
    ("starts_in", "expected"), list(BOOKING_CASES.values()), ids=list(BOOKING_CASES)
)
def test_booking_rules(starts_in: timedelta, expected: dict[str, tuple[object, ...]]) -> None:
    result = plan(appointment(starts_in), CLIENT, KINDS, NOW, min_lead=MIN_LEAD)
    got = {n.kind: (n.status, n.reason, n.due_at - NOW) for n in result.create}
    assert got == expected
    assert all(n.planned_start == NOW + starts_in for n in result.create)
    assert all((n.reason is None) == (n.status is P) for n in result.create)
    assert result.cancel == ()


THREE = reminder_kinds([48 * H, 24 * H, H])

MIDDLE_CASES = {
    "30h ahead: 2d late, 24h ahead, so 2d goes now": (
        30 * H,
        {"reminder_2d": (P, None), "reminder_24h": (P, None), "reminder_1h": (P, None)},
    ),
    "20h ahead: 2d superseded by the late 24h, which goes now": (
        20 * H,
        {
            "reminder_2d": (S, Reason.superseded),
            "reminder_24h": (P, None),
            "reminder_1h": (P, None),
        },
    ),
    "30 min ahead: only the 1h reminder, late": (
        30 * M,
        {
            "reminder_2d": (S, Reason.superseded),
            "reminder_24h": (S, Reason.superseded),
            "reminder_1h": (P, None),
        },
    ),
}


@pytest.mark.parametrize(
    ("starts_in", "expected"), list(MIDDLE_CASES.values()), ids=list(MIDDLE_CASES)
)
def test_three_reminders(starts_in: timedelta, expected: dict[str, tuple[object, ...]]) -> None:
    """A late reminder is judged against the next smaller one, whatever their number."""
    result = plan(appointment(starts_in), CLIENT, THREE, NOW, min_lead=MIN_LEAD)
    assert {n.kind: (n.status, n.reason) for n in result.create} == expected


def test_one_notification_per_channel_and_opted_out_channels_are_skipped_with_reason() -> None:
    client = replace(
        CLIENT,
        whatsapp="+34600123456",
        channels=(Channel.email, Channel.sms, Channel.whatsapp),
        opt_out=frozenset({Channel.sms}),
    )
    result = plan(appointment(72 * H), client, KINDS, NOW, min_lead=MIN_LEAD)
    got = {(n.kind, n.channel): (n.status, n.reason, n.recipient) for n in result.create}
    assert got == {
        ("reminder_24h", Channel.email): (P, None, "ana@example.com"),
        ("reminder_24h", Channel.sms): (S, Reason.opted_out, "+34600123456"),
        ("reminder_24h", Channel.whatsapp): (P, None, "+34600123456"),
        ("reminder_1h", Channel.email): (P, None, "ana@example.com"),
        ("reminder_1h", Channel.sms): (S, Reason.opted_out, "+34600123456"),
        ("reminder_1h", Channel.whatsapp): (P, None, "+34600123456"),
    }


@pytest.mark.parametrize(
    "status",
    [AppointmentStatus.cancelled, AppointmentStatus.completed, AppointmentStatus.no_show],
)
def test_closed_appointment_gets_nothing_and_its_pending_reminders_are_cancelled(
    status: AppointmentStatus,
) -> None:
    booked = appointment(72 * H, status)
    existing = [
        notification(1, "reminder_24h", booked.starts_at, NotificationStatus.sent),
        notification(2, "reminder_1h", booked.starts_at, NotificationStatus.pending),
    ]
    result = plan(booked, CLIENT, KINDS, NOW, min_lead=MIN_LEAD, existing=existing)
    assert result.create == ()
    assert result.cancel == (Cancellation(2, Reason(status.value)),)


def test_confirmed_appointments_get_reminders_too() -> None:
    result = plan(
        appointment(72 * H, AppointmentStatus.confirmed), CLIENT, KINDS, NOW, min_lead=MIN_LEAD
    )
    assert len(result.create) == 2


def test_reschedule_cancels_pending_of_the_old_time_keeps_sent_ones_and_plans_the_new_time() -> (
    None
):
    old_start = NOW + 30 * H
    moved = appointment(72 * H)
    existing = [
        notification(1, "reminder_24h", old_start, NotificationStatus.sent),
        notification(2, "reminder_1h", old_start, NotificationStatus.pending),
        notification(3, "reminder_1h", old_start, NotificationStatus.sending),
    ]
    result = plan(moved, CLIENT, KINDS, NOW, min_lead=MIN_LEAD, existing=existing)
    assert result.cancel == (Cancellation(2, Reason.rescheduled),)
    assert {(n.kind, n.planned_start, n.status) for n in result.create} == {
        ("reminder_24h", moved.starts_at, P),
        ("reminder_1h", moved.starts_at, P),
    }


def test_planning_twice_repeats_nothing() -> None:
    booked = appointment(72 * H)
    existing = [
        notification(1, "reminder_24h", booked.starts_at, NotificationStatus.pending),
        notification(2, "reminder_1h", booked.starts_at, NotificationStatus.skipped, "opted_out"),
    ]
    assert plan(booked, CLIENT, KINDS, NOW, min_lead=MIN_LEAD, existing=existing).create == ()


def test_moving_back_to_a_cancelled_time_plans_that_time_again() -> None:
    booked = appointment(72 * H)
    existing = [
        notification(
            1, "reminder_24h", booked.starts_at, NotificationStatus.cancelled, "rescheduled"
        ),
        notification(2, "reminder_1h", booked.starts_at, NotificationStatus.cancelled, "cancelled"),
    ]
    result = plan(booked, CLIENT, KINDS, NOW, min_lead=MIN_LEAD, existing=existing)
    assert [n.kind for n in result.create] == ["reminder_24h"]


HORIZON_CASES = {
    "nothing due within the horizon": (72 * H, set()),
    "only the 24h reminder falls in the horizon": (25 * H + 30 * M, {"reminder_24h"}),
    "both fall in the horizon": (2 * H, {"reminder_24h", "reminder_1h"}),
    "a due time exactly at the horizon's end is included": (26 * H, {"reminder_24h"}),
}


@pytest.mark.parametrize(
    ("starts_in", "kinds"), list(HORIZON_CASES.values()), ids=list(HORIZON_CASES)
)
def test_horizon_limits_what_the_sweep_plans(starts_in: timedelta, kinds: set[str]) -> None:
    result = plan(appointment(starts_in), CLIENT, KINDS, NOW, min_lead=MIN_LEAD, horizon=2 * H)
    assert {n.kind for n in result.create} == kinds


def test_reminder_kinds_are_named_by_offset_and_sorted_largest_first() -> None:
    kinds = reminder_kinds([H, 90 * M, 24 * H, 48 * H, H])
    assert [k.name for k in kinds] == ["reminder_2d", "reminder_24h", "reminder_90m", "reminder_1h"]


def test_the_rules_import_no_database_or_web_code() -> None:
    """Planning and validation are pure: importing them loads no SQL layer or web framework."""
    code = (
        "import sys, avisa.domain.planning, avisa.domain.validation; "
        "print(sorted(m for m in sys.modules if m.startswith(('avisa.db', 'fastapi', 'httpx'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
