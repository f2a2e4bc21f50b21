"""`avisa demo`: sample clients and appointments whose reminders fall due within minutes,
made through the domain's functions (so planned like any booking)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from avisa.clock import FrozenClock
from avisa.db.tables import appointments, clients, notifications
from avisa.demo import create_demo
from avisa.services import Services
from tests.support.cli import invoke


def _count(services: Services, table: sa.Table) -> int:
    with services.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_demo_fills_clients_whose_reminders_fall_due_within_minutes(
    services: Services, clock: FrozenClock
) -> None:
    report = create_demo(services)
    now = clock.now()
    assert (report.created, report.updated, report.cancelled) == (7, 0, 1)
    with services.engine.connect() as conn:
        people = conn.execute(sa.select(clients.c.locale, clients.c.timezone)).all()
        pending = conn.execute(
            sa.select(notifications.c.kind, notifications.c.channel, notifications.c.due_at).where(
                notifications.c.status == "pending"
            )
        ).all()
        statuses = set(conn.execute(sa.select(appointments.c.status)).scalars())
    assert len(people) == 6
    assert {p.locale for p in people} == {"es", "en"}
    assert len({p.timezone for p in people}) >= 5
    soon = [n for n in pending if n.due_at <= now + timedelta(minutes=10)]
    assert {n.channel for n in soon} == {"email", "sms", "whatsapp"}
    assert {n.kind for n in soon} == {"reminder_24h", "reminder_1h"}
    assert len(soon) >= 15
    assert report.first_due is not None
    assert report.first_due <= now + timedelta(minutes=5)
    assert statuses == {"scheduled", "confirmed", "cancelled"}


def test_demo_again_moves_the_same_appointments(services: Services, clock: FrozenClock) -> None:
    """A second run refreshes times (re-planning) instead of adding clients or bookings."""
    create_demo(services)
    clock.advance(timedelta(hours=3))
    report = create_demo(services)
    assert (report.created, report.updated) == (0, 6)
    assert _count(services, clients) == 6
    assert _count(services, appointments) == 7
    with services.engine.connect() as conn:
        moved = conn.execute(
            sa.select(sa.func.count()).where(
                notifications.c.status == "cancelled", notifications.c.reason == "rescheduled"
            )
        ).scalar_one()
    assert moved > 0


def test_avisa_demo_command(tmp_path: Path) -> None:
    env = {"AVISA_DATA_DIR": str(tmp_path / "data")}
    assert invoke("init", env=env).returncode == 0
    result = invoke("demo", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("demo: 7 appointments created")
    assert "/dashboard/reminders" in result.stdout
