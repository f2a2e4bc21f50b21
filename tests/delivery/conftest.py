"""Fixtures for delivery: installations with chosen providers, the fake providers on real
sockets, and a helper that books appointments and runs a worker to completion."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.db.tables import notifications
from avisa.delivery.ratelimit import RateLimits
from avisa.delivery.runtime import build_delivery_worker
from avisa.delivery.worker import DeliveryWorker
from avisa.domain.appointments import create_appointment
from avisa.domain.model import AppointmentRecord, NotificationRecord
from avisa.domain.notifications import notification_record
from avisa.domain.schemas import AppointmentCreate, ClientCreate
from avisa.services import Services, build_services
from avisa.setup import initialise
from tests.support.fake_meta import FakeMeta
from tests.support.fake_twilio import FakeTwilio
from tests.support.server import serve_app
from tests.support.smtp import SmtpRecorder, smtp_server

T = TypeVar("T")


@dataclass
class Installation:
    """An initialised avisa with a frozen clock, and shortcuts for delivery tests."""

    services: Services
    clock: FrozenClock

    @property
    def engine(self) -> Engine:
        return self.services.engine

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def book(
        self,
        in_: timedelta = timedelta(days=3),
        *,
        channels: list[str] | None = None,
        locale: str = "es",
        timezone: str = "Europe/Madrid",
        email: str | None = "ana@example.com",
        phone: str | None = "+34600123456",
        whatsapp: str | bool | None = None,
        **fields: Any,
    ) -> AppointmentRecord:
        """Book an appointment starting `in_` from now for a new client (planned at booking)."""
        start = self.clock.now() + in_
        client = ClientCreate(
            name=fields.pop("name", "Ana"),
            email=email,
            phone=phone,
            whatsapp=whatsapp,
            locale=locale,
            timezone=timezone,
            channels=channels,
        )
        data = AppointmentCreate(
            client=client,
            service=fields.pop("service", "Corte de pelo"),
            starts_at=start,
            ends_at=start + timedelta(minutes=45),
            **fields,
        )
        with self.engine.begin() as conn:
            record, _ = create_appointment(conn, data, self.settings, self.clock.now())
        return record

    def notifications(self, **where: Any) -> list[NotificationRecord]:
        query = sa.select(notifications).order_by(notifications.c.id)
        for name, value in where.items():
            query = query.where(notifications.c[name] == value)
        with self.engine.connect() as conn:
            return [notification_record(r._mapping) for r in conn.execute(query)]

    def worker(self, limits: RateLimits | None = None) -> DeliveryWorker:
        return build_delivery_worker(self.services, limits=limits)

    def deliver(self) -> int:
        """Run a fresh worker over everything due now, to completion."""

        async def go() -> int:
            worker = self.worker()
            try:
                return await worker.run_pending()
            finally:
                await worker.aclose()

        return run(go())

    def advance_to_due(self) -> None:
        """Move the clock to the earliest pending due time."""
        pending = [n.due_at for n in self.notifications(status="pending")]
        self.clock.set(max(self.clock.now(), min(pending)))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


MakeInstallation = Callable[..., Installation]


@pytest.fixture
def install(
    make_settings: Callable[..., Settings], migrated_engine: Engine, clock: FrozenClock
) -> MakeInstallation:
    """Build an initialised installation with settings overrides (once per test)."""

    def factory(**overrides: Any) -> Installation:
        overrides.setdefault("delivery_backoff", timedelta(seconds=30))
        services = build_services(make_settings(**overrides), engine=migrated_engine, clock=clock)
        initialise(services)
        return Installation(services, clock)

    return factory


@pytest.fixture
def fake_twilio() -> Iterator[tuple[FakeTwilio, str]]:
    fake = FakeTwilio()
    with serve_app(fake.app) as url:
        yield fake, url


@pytest.fixture
def fake_meta() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta()
    with serve_app(fake.app) as url:
        yield fake, url


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpRecorder, int]]:
    with smtp_server() as server:
        yield server


def twilio_settings(url: str, fake: FakeTwilio, **extra: Any) -> dict[str, Any]:
    return {
        "sms_provider": "twilio",
        "twilio_account_sid": fake.account_sid,
        "twilio_from": "+34911000111",
        "twilio_base_url": url,
        **extra,
    }


def store_secret(installation: Installation, name: str, value: str) -> None:
    installation.services.vault.create_secret(value, name)
