"""`avisa demo`: sample clients and appointments whose reminders fall due within minutes.

Everything is created through the domain's own functions, so planning happens exactly
as for a real booking: appointments starting in about an hour get their 1 h reminder a
few minutes from now (and their 24 h one at once, booked late), one starting in about a
day gets its 24 h reminder in a few minutes, one is cancelled to show the cancellation.
Each appointment has an `external_id` (`demo-…`), so running the demo again moves the
same appointments to fresh times (re-planning them) instead of adding more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from avisa.db.tables import notifications
from avisa.domain.appointments import cancel_appointment, create_appointment
from avisa.domain.schemas import AppointmentCreate, ClientCreate
from avisa.errors import ConflictError
from avisa.services import Services

_CLIENTS: tuple[dict[str, Any], ...] = (
    {
        "name": "Lucía Fernández",
        "email": "lucia.fernandez@example.com",
        "phone": "+34 612 345 678",
        "whatsapp": True,
        "locale": "es",
        "timezone": "Europe/Madrid",
    },
    {
        "name": "Oliver Smith",
        "email": "oliver.smith@example.org",
        "phone": "+44 7911 123456",
        "locale": "en",
        "timezone": "Europe/London",
    },
    {
        "name": "María José Ruiz",
        "email": "mariajose.ruiz@example.com",
        "phone": "+52 55 1234 5678",
        "locale": "es",
        "timezone": "America/Mexico_City",
    },
    {
        "name": "Emma Johnson",
        "email": "emma.johnson@example.org",
        "whatsapp": "+1 202 555 0143",
        "locale": "en",
        "timezone": "America/New_York",
    },
    {
        "name": "Carlos Pérez",
        "whatsapp": "+57 301 234 5678",
        "locale": "es",
        "timezone": "America/Bogota",
    },
    {
        "name": "Chloe Martin",
        "email": "chloe.martin@example.org",
        "phone": "+61 412 345 678",
        "locale": "en",
        "timezone": "Australia/Sydney",
    },
)

#: (client index, service, staff, location, start from now, amount, currency, status)
_APPOINTMENTS: tuple[tuple[int, str, str, str, timedelta, str, str, str], ...] = (
    (
        0,
        "Limpieza dental",
        "Dra. Gómez",
        "Calle Mayor 1, Madrid",
        timedelta(minutes=62),
        "60.00",
        "EUR",
        "confirmed",
    ),
    (
        1,
        "Physiotherapy session",
        "Sam Taylor",
        "12 Baker Street, London",
        timedelta(minutes=64),
        "45.00",
        "GBP",
        "scheduled",
    ),
    (
        2,
        "Corte de cabello",
        "Ana",
        "Av. Reforma 200, CDMX",
        timedelta(minutes=66),
        "350.00",
        "MXN",
        "scheduled",
    ),
    (
        3,
        "Dental check-up",
        "Dr. Lee",
        "5th Avenue 100, New York",
        timedelta(hours=24, minutes=3),
        "120.00",
        "USD",
        "confirmed",
    ),
    (
        4,
        "Consulta de nutrición",
        "Dr. Vargas",
        "Carrera 7 #72, Bogotá",
        timedelta(minutes=25),
        "90000",
        "COP",
        "scheduled",
    ),
    (
        5,
        "Massage",
        "Jordan",
        "George Street 1, Sydney",
        timedelta(minutes=68),
        "80.00",
        "AUD",
        "scheduled",
    ),
    (
        0,
        "Revisión de ortodoncia",
        "Dra. Gómez",
        "Calle Mayor 1, Madrid",
        timedelta(hours=3),
        "40.00",
        "EUR",
        "cancel",
    ),
)


@dataclass
class DemoReport:
    """What the demo made: appointment ids, and the first reminder's due time."""

    appointments: list[int] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    first_due: datetime | None = None

    def message(self) -> str:
        due = f", first reminder due {self.first_due:%H:%M:%S}Z" if self.first_due else ""
        return (
            f"demo: {self.created} appointments created, {self.updated} moved to fresh times, "
            f"{self.cancelled} cancelled{due}"
        )


def create_demo(services: Services) -> DemoReport:
    """Create (or refresh) the demo clients and appointments at `services.clock.now()`."""
    now = services.clock.now().replace(microsecond=0)
    report = DemoReport()
    with services.engine.begin() as conn:
        for index, row in enumerate(_APPOINTMENTS):
            client, service, staff, location, start_in, amount, currency, status = row
            starts = now + start_in
            data = AppointmentCreate(
                client=ClientCreate(**_CLIENTS[client]),
                service=service,
                staff=staff,
                location=location,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                status="confirmed" if status == "confirmed" else "scheduled",
                total_amount=Decimal(amount),
                paid_amount=Decimal(0),
                currency=currency,
                external_id=f"demo-{index + 1}",
            )
            try:
                record, created = create_appointment(conn, data, services.settings, now)
            except ConflictError:
                # The cancelled sample from an earlier run: it stays cancelled, unchanged.
                continue
            report.appointments.append(record.id)
            report.created += int(created)
            report.updated += int(not created)
            if status == "cancel" and created:
                cancel_appointment(conn, record.id, services.settings, now)
                report.cancelled += 1
    report.first_due = _first_due(services, report.appointments, now)
    return report


def _first_due(services: Services, ids: list[int], now: datetime) -> datetime | None:
    query = sa.select(sa.func.min(notifications.c.due_at)).where(
        notifications.c.appointment_id.in_(ids),
        notifications.c.status == "pending",
        notifications.c.due_at > now,
    )
    with services.engine.connect() as conn:
        found: datetime | None = conn.execute(query).scalar()
    return found
