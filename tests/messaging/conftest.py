"""Fixtures for two-way messaging: an installation with its app, signed provider calls,
and a fake Meta that, like the real one, accepts free text inside an open 24 h window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.responses import JSONResponse

from avisa.clock import FrozenClock
from avisa.config import Settings
from avisa.db.tables import (
    appointments,
    clients,
    inbound_messages,
    message_events,
    notifications,
)
from avisa.domain.appointments import appointment_record
from avisa.domain.clients import client_record
from avisa.domain.model import AppointmentRecord, ClientRecord
from avisa.services import build_services
from avisa.setup import initialise
from avisa.web.app import create_app
from tests.delivery.conftest import Installation
from tests.support.fake_meta import FakeMeta
from tests.support.fake_twilio import AUTH_TOKEN
from tests.support.server import serve_app

APP_SECRET = "meta-app-secret-canary-41c9"
VERIFY_TOKEN = "meta-verify-token-canary-88d2"
PHONE = "+34600123456"


def twilio_signature(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """What Twilio puts in `X-Twilio-Signature`, computed as its documentation says."""
    data = url + "".join(f"{name}{form[name]}" for name in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def meta_signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Messaging(Installation):
    """An installation with its HTTP app and helpers that speak as the providers."""

    client: httpx.Client

    # -- provider calls --------------------------------------------------------------------

    def twilio(
        self, path: str, form: dict[str, str], *, signature: str | None = "sign"
    ) -> httpx.Response:
        """POST `form` to a Twilio webhook, signed as Twilio would (or as told)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "sign":
            signature = twilio_signature(self.settings.public_url + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        response: httpx.Response = self.client.post(path, content=urlencode(form), headers=headers)
        return response

    def status(self, sid: str, status: str, **extra: str) -> httpx.Response:
        return self.twilio(
            "/webhooks/twilio/status", {"MessageSid": sid, "MessageStatus": status, **extra}
        )

    def sms(self, body: str, sid: str, sender: str = PHONE, **extra: str) -> httpx.Response:
        form = {"MessageSid": sid, "From": sender, "To": "+34911000111", "Body": body, **extra}
        return self.twilio("/webhooks/twilio/inbound", form)

    def meta(self, value: dict[str, Any], *, signature: str | None = "sign") -> httpx.Response:
        """POST one Meta webhook `value` (statuses and/or messages), signed."""
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
        }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "sign":
            signature = meta_signature(body)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response: httpx.Response = self.client.post(
            "/webhooks/whatsapp", content=body, headers=headers
        )
        return response

    # -- reading state ---------------------------------------------------------------------

    def rows(self, table: sa.Table) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]

    def inbound(self) -> list[dict[str, Any]]:
        return self.rows(inbound_messages)

    def events(self) -> list[dict[str, Any]]:
        return self.rows(message_events)

    def appointment(self, appointment_id: int) -> AppointmentRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(appointments).where(appointments.c.id == appointment_id)
            ).one()
        return appointment_record(row._mapping)

    def client_of(self, appointment: AppointmentRecord) -> ClientRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(clients).where(clients.c.id == appointment.client_id)
            ).one()
        return client_record(row._mapping)

    def mark_sent(self, notification_id: int, provider: str, message_id: str) -> None:
        """What the worker writes after a send (the send itself is delivery's business)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(notifications)
                .where(notifications.c.id == notification_id)
                .values(
                    status="sent",
                    provider=provider,
                    provider_message_id=message_id,
                    sent_at=self.clock.now(),
                )
            )


MakeMessaging = Callable[..., Messaging]


@pytest.fixture
def install(
    make_settings: Callable[..., Settings], migrated_engine: Engine, clock: FrozenClock
) -> Iterator[MakeMessaging]:
    """Build an initialised installation with its app served on a real socket (once per
    test), the webhook secrets in its vault."""
    with ExitStack() as stack:

        def factory(*, secrets: bool = True, **overrides: Any) -> Messaging:
            services = build_services(
                make_settings(**overrides), engine=migrated_engine, clock=clock
            )
            initialise(services)
            if secrets:
                for name, value in (
                    ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
                    ("WHATSAPP_APP_SECRET", APP_SECRET),
                    ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
                ):
                    services.vault.create_secret(value, name)
            url = stack.enter_context(serve_app(create_app(services)))
            client = stack.enter_context(httpx.Client(base_url=url, timeout=30))
            return Messaging(services, clock, client)

        yield factory


@pytest.fixture
def avisa(install: MakeMessaging) -> Messaging:
    """The default installation: console providers, webhook secrets stored."""
    return install()


class WindowFakeMeta(FakeMeta):
    """Meta's Cloud API with the customer-service window: free text is accepted for a
    number that wrote to us (`open_window`), as the real API does for 24 h."""

    def __init__(self) -> None:
        super().__init__()
        self.windows: set[str] = set()

    def open_window(self, digits: str) -> None:
        self.windows.add(digits)

    def _check(self, payload: dict[str, Any]) -> JSONResponse | None:
        if payload.get("type") == "text" and str(payload.get("to")) in self.windows:
            body = (payload.get("text") or {}).get("body")
            return None if isinstance(body, str) and body else super()._check(payload)
        return super()._check(payload)


@pytest.fixture
def fake_meta() -> Iterator[tuple[WindowFakeMeta, str]]:
    fake = WindowFakeMeta()
    with serve_app(fake.app) as url:
        yield fake, url


def book(
    avisa: Installation, in_: timedelta = timedelta(days=3), **fields: Any
) -> AppointmentRecord:
    """Book for Ana (+34600123456, es, SMS and WhatsApp by default)."""
    fields.setdefault("channels", ["sms", "whatsapp"])
    fields.setdefault("whatsapp", True)
    return avisa.book(in_, **fields)
