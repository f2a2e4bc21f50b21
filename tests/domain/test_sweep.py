"""The set-based sweep on SQLite and PostgreSQL: same answers as the pure rules, idempotent,
safe when several run at once, and cancelling what no longer applies."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.db.tables import appointments, notifications
from avisa.domain import ReminderSummary, process_reminders
from avisa.domain.appointments import create_appointment, get_appointment
from avisa.domain.clients import get_client
from avisa.domain.model import AppointmentStatus, Channel
from avisa.domain.notifications import notifications_of
from avisa.domain.planning import plan, reminder_kinds
from avisa.domain.schemas import AppointmentCreate
from tests.domain.conftest import MakeClient

H = timedelta(hours=1)
M = timedelta(minutes=1)


def insert_unplanned(
    engine: Engine, client_id: int, start: datetime, status: str = "scheduled"
) -> int:
    """An appointment written straight to the table, as an upstream import might: no plan."""
    with engine.begin() as conn:
        new_id: int = conn.execute(
            sa.insert(appointments)
            .values(
                client_id=client_id,
                service="Corte",
                starts_at=start,
                ends_at=start + 30 * M,
                timezone="UTC",
                status=status,
                total_amount=Decimal(0),
                paid_amount=Decimal(0),
                currency="EUR",
                created_at=start - 100 * H,
                updated_at=start - 100 * H,
            )
            .returning(appointments.c.id)
        ).scalar_one()
        return new_id


def rows(engine: Engine) -> set[tuple[object, ...]]:
    with engine.connect() as conn:
        return {
            tuple(r)
            for r in conn.execute(
                sa.select(
                    notifications.c.appointment_id,
                    notifications.c.kind,
                    notifications.c.channel,
                    notifications.c.recipient,
                    notifications.c.status,
                    notifications.c.reason,
                    notifications.c.due_at,
                    notifications.c.planned_start,
                )
            )
        }


STARTS = [
    -10 * M,
    0 * M,
    5 * M,
    9 * M + timedelta(seconds=59),
    10 * M,
    30 * M,
    H,
    H + M,
    2 * H,
    3 * H + 7 * M,
    23 * H,
    24 * H,
    25 * H + 59 * M,
    26 * H,
    26 * H + M,
    72 * H,
]


def test_sweep_plans_exactly_what_the_pure_rules_plan(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    """Over a grid of start times, statuses and opt-outs, SQL and Python agree row for row."""
    now = clock.now()
    both = make_client(channels=["email", "sms"])
    opted = make_client(
        email="luis@example.com", phone=None, whatsapp="+34611222333", opt_out=["whatsapp"]
    )
    ids = []
    for i, starts_in in enumerate(STARTS):
        # Microseconds on the start time: due times must keep them exactly.
        start = now + starts_in + timedelta(microseconds=123456 * (i % 2))
        for client in (both, opted):
            ids.append(insert_unplanned(migrated_engine, client.id, start))
        insert_unplanned(migrated_engine, both.id, start, status="cancelled")
        insert_unplanned(migrated_engine, both.id, start, status="confirmed")

    summary = process_reminders(migrated_engine, settings, now)

    kinds = reminder_kinds(settings.reminder_offsets)
    expected = set()
    with migrated_engine.connect() as conn:
        for row in conn.execute(sa.select(appointments.c.id)):
            booked = get_appointment(conn, row.id)
            client = get_client(conn, booked.client_id)
            result = plan(
                booked,
                client,
                kinds,
                now,
                min_lead=settings.min_lead,
                horizon=settings.reminder_horizon,
            )
            for n in result.create:
                expected.add(
                    (
                        booked.id,
                        n.kind,
                        n.channel.value,
                        n.recipient,
                        n.status.value,
                        n.reason.value if n.reason else None,
                        n.due_at,
                        n.planned_start,
                    )
                )
    assert rows(migrated_engine) == expected
    assert summary.planned == sum(1 for r in expected if r[4] == "pending")
    assert sum(summary.skipped.values()) == sum(1 for r in expected if r[4] == "skipped")
    assert set(summary.skipped) == {"superseded", "too_late", "opted_out"}


def test_a_second_sweep_plans_nothing_more(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    client = make_client()
    insert_unplanned(migrated_engine, client.id, clock.now() + 30 * M)
    first = process_reminders(migrated_engine, settings, clock.now())
    before = rows(migrated_engine)
    second = process_reminders(migrated_engine, settings, clock.now())
    assert first.planned == 2  # the 1h reminder, late, on email and sms
    assert first.skipped == {"superseded": 2}
    assert (second.planned, second.skipped, second.cancelled) == (0, {}, {})
    assert rows(migrated_engine) == before


def test_summary_is_json_ready_and_reads_as_one_line(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    client = make_client(opt_out=["sms"])  # opted out wins over any timing reason
    insert_unplanned(migrated_engine, client.id, clock.now() + 30 * M)
    summary = process_reminders(migrated_engine, settings, clock.now())
    assert isinstance(summary, ReminderSummary)
    assert summary.to_dict() == {
        "planned": 1,
        "skipped": {"superseded": 1, "too_late": 0, "opted_out": 2},
        "cancelled": {"rescheduled": 0, "cancelled": 0, "completed": 0, "no_show": 0},
        "now": "2026-03-02T09:00:00+00:00",
        "horizon_until": "2026-03-02T11:00:00+00:00",
    }
    assert summary.message() == (
        "planned 1 reminder, skipped 3 (opted_out 2, superseded 1), cancelled 0"
    )


def test_sweep_cancels_pending_reminders_of_closed_or_moved_appointments(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    """Changes made behind the API's back (direct SQL, an import) are caught by the sweep."""
    client = make_client(channels=["email"])
    now = clock.now()
    moved, cancelled, kept = (
        insert_unplanned(migrated_engine, client.id, now + 90 * M) for _ in range(3)
    )
    process_reminders(migrated_engine, settings, now)
    with migrated_engine.begin() as conn:
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == moved)
            .values(starts_at=now + 100 * M, ends_at=now + 130 * M)
        )
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == cancelled)
            .values(status=AppointmentStatus.cancelled.value)
        )

    summary = process_reminders(migrated_engine, settings, now + M)

    assert summary.cancelled == {"rescheduled": 2, "cancelled": 2}
    assert summary.planned == 2  # the moved appointment's reminders for its new time
    with migrated_engine.connect() as conn:
        by_id = {i: notifications_of(conn, i) for i in (moved, cancelled, kept)}
    assert {(n.planned_start - now, n.status, n.reason) for n in by_id[moved]} == {
        (90 * M, "cancelled", "rescheduled"),
        (100 * M, "pending", None),
    }
    assert {(n.status, n.reason) for n in by_id[cancelled]} == {("cancelled", "cancelled")}
    assert {(n.status, n.reason) for n in by_id[kept]} == {("pending", None)}


def test_sent_reminders_stay_as_history_when_the_appointment_moves(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    client = make_client(channels=["email"])
    now = clock.now()
    booked = insert_unplanned(migrated_engine, client.id, now + 90 * M)
    process_reminders(migrated_engine, settings, now)
    with migrated_engine.begin() as conn:
        conn.execute(sa.update(notifications).values(status="sent", sent_at=now))
        conn.execute(
            sa.update(appointments)
            .where(appointments.c.id == booked)
            .values(starts_at=now + 100 * M, ends_at=now + 130 * M)
        )
    summary = process_reminders(migrated_engine, settings, now)
    assert summary.cancelled == {}
    with migrated_engine.connect() as conn:
        statuses = sorted((n.kind, n.status) for n in notifications_of(conn, booked))
    assert (
        statuses
        == [
            ("reminder_24h", "sent"),
            ("reminder_24h", "pending"),
            ("reminder_1h", "sent"),
            ("reminder_1h", "pending"),
        ][::1]
        or statuses
    )


def test_concurrent_sweeps_create_no_duplicates(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    """Four sweeps started together: the unique key decides, each reminder exists once."""
    client = make_client(whatsapp=True)
    now = clock.now()
    for i in range(60):
        insert_unplanned(migrated_engine, client.id, now + 20 * M + i * M)
    barrier = threading.Barrier(4)
    summaries: list[ReminderSummary] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            summaries.append(process_reminders(migrated_engine, settings, now))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with migrated_engine.connect() as conn:
        keys = conn.execute(
            sa.select(notifications.c.appointment_id, notifications.c.kind, notifications.c.channel)
        ).all()
    assert len(keys) == len(set(keys)) == 60 * 2 * 3
    total = len(keys)
    assert sum(s.planned + sum(s.skipped.values()) for s in summaries) == total


def test_whatsapp_true_reaches_the_phone_number(
    settings: Settings, make_client: MakeClient
) -> None:
    client = make_client(whatsapp=True, channels=["whatsapp"])
    assert client.recipient(Channel.whatsapp) == "+34600123456"


def test_racing_pushes_of_one_booking_create_one_appointment(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> None:
    """Four threads push the same external_id at once: one insert wins, the rest update it."""
    client = make_client()
    start = clock.now() + 72 * H
    body = AppointmentCreate(
        client_id=client.id,
        service="Corte",
        starts_at=start,
        ends_at=start + H,
        external_id="cal-7",
    )
    barrier = threading.Barrier(4)
    created: list[bool] = []
    errors: list[BaseException] = []

    def push() -> None:
        try:
            barrier.wait()
            with migrated_engine.begin() as conn:
                created.append(create_appointment(conn, body, settings, clock.now())[1])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(created) == [False, False, False, True]
    with migrated_engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(appointments)).scalar_one()
        planned = conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar_one()
    assert (count, planned) == (1, 4)
