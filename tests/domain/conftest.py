"""Fixtures for the appointments domain: settings, and a builder of clients and appointments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.domain.appointments import create_appointment
from avisa.domain.clients import create_client
from avisa.domain.model import AppointmentRecord, ClientRecord
from avisa.domain.schemas import AppointmentCreate, ClientCreate

MakeClient = Callable[..., ClientRecord]
MakeAppointment = Callable[..., AppointmentRecord]


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_client(migrated_engine: Engine, settings: Settings, clock: FrozenClock) -> MakeClient:
    """Insert a client (email and phone by default) and return it."""

    def factory(**fields: Any) -> ClientRecord:
        values: dict[str, Any] = {
            "name": "Ana",
            "email": "ana@example.com",
            "phone": "+34600123456",
        }
        values.update(fields)
        with migrated_engine.begin() as conn:
            return create_client(conn, ClientCreate(**values), settings, clock.now())

    return factory


@pytest.fixture
def make_appointment(
    migrated_engine: Engine, settings: Settings, clock: FrozenClock, make_client: MakeClient
) -> MakeAppointment:
    """Insert an appointment starting `in_` from now (planned at booking, like the API)."""

    def factory(in_: timedelta = timedelta(days=3), **fields: Any) -> AppointmentRecord:
        start = clock.now() + in_
        values: dict[str, Any] = {
            "service": "Corte",
            "starts_at": start,
            "ends_at": start + timedelta(minutes=30),
        }
        if "client_id" not in fields:
            values["client_id"] = make_client().id
        values.update(fields)
        with migrated_engine.begin() as conn:
            record, _ = create_appointment(conn, AppointmentCreate(**values), settings, clock.now())
        return record

    return factory


def at(text: str) -> datetime:
    """An aware UTC instant from `2026-03-02T09:00`."""
    return datetime.fromisoformat(text + "+00:00")
