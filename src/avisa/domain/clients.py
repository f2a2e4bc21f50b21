"""Clients: create, read, list and edit, with contacts normalised on the way in.

Functions take an open connection and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from avisa.config import Settings
from avisa.db.tables import clients
from avisa.domain.model import Channel, ClientRecord
from avisa.domain.schemas import ClientCreate, ClientPublic, ClientUpdate
from avisa.domain.sql import cursor_id, decode_cursor, encode_cursor
from avisa.domain.validation import (
    InvalidFieldError,
    check_locale,
    check_zone,
    normalize_email,
    normalize_phone,
)
from avisa.errors import NotFoundError

_CHANNEL_ORDER = (Channel.email, Channel.sms, Channel.whatsapp)


def client_values(data: ClientCreate, settings: Settings, *, prefix: str = "") -> dict[str, Any]:
    """The normalised column values for a client described by `data`.

    `prefix` is prepended to field names in errors (`client.phone` for an inline client).
    Raises InvalidFieldError for a bad address, zone or locale, for a channel without an
    address, and for a client with no way to be reached.
    """
    email = normalize_email(f"{prefix}email", data.email) if data.email else None
    phone = (
        normalize_phone(f"{prefix}phone", data.phone, settings.default_region)
        if data.phone
        else None
    )
    whatsapp: str | None
    if data.whatsapp is True:
        if phone is None:
            raise InvalidFieldError(f"{prefix}whatsapp", "true means 'use phone', but no phone")
        whatsapp = phone
    elif isinstance(data.whatsapp, str) and data.whatsapp:
        whatsapp = normalize_phone(f"{prefix}whatsapp", data.whatsapp, settings.default_region)
    else:
        whatsapp = None
    addresses = {Channel.email: email, Channel.sms: phone, Channel.whatsapp: whatsapp}
    if data.channels is None:
        channels = [c for c in _CHANNEL_ORDER if addresses[c]]
    else:
        channels = list(dict.fromkeys(data.channels))
        for channel in channels:
            if not addresses[channel]:
                needs = "email" if channel is Channel.email else "phone number"
                raise InvalidFieldError(f"{prefix}channels", f"{channel} needs an {needs}")
    if not channels:
        raise InvalidFieldError(
            f"{prefix}channels", "a client needs an email, phone or whatsapp to be reminded"
        )
    return {
        "name": data.name,
        "email": email,
        "phone": phone,
        "whatsapp": whatsapp,
        "locale": check_locale(f"{prefix}locale", data.locale or settings.default_locale),
        "timezone": check_zone(f"{prefix}timezone", data.timezone or settings.default_timezone),
        "channels": [str(c) for c in channels],
        "opt_out": [str(c) for c in dict.fromkeys(data.opt_out)],
    }


def create_client(
    conn: sa.Connection, data: ClientCreate, settings: Settings, now: datetime, *, prefix: str = ""
) -> ClientRecord:
    """Insert a client; raises InvalidFieldError (see `client_values`)."""
    return _insert(conn, client_values(data, settings, prefix=prefix), now)


def find_or_create_client(
    conn: sa.Connection, data: ClientCreate, settings: Settings, now: datetime, *, prefix: str = ""
) -> ClientRecord:
    """The existing client with the same email (or, without one, the same phone), else a new one.

    An existing client is returned as stored: an inline client in a booking identifies
    the person, it does not edit them. Raises InvalidFieldError (see `client_values`).
    """
    values = client_values(data, settings, prefix=prefix)
    for column in ("email", "phone", "whatsapp"):
        if values[column]:
            row = conn.execute(
                sa.select(clients)
                .where(clients.c[column] == values[column])
                .order_by(clients.c.id)
                .limit(1)
            ).first()
            if row is not None:
                return client_record(row._mapping)
            break
    return _insert(conn, values, now)


def _insert(conn: sa.Connection, values: dict[str, Any], now: datetime) -> ClientRecord:
    row = conn.execute(
        sa.insert(clients).values(**values, created_at=now, updated_at=now).returning(*clients.c)
    ).one()
    return client_record(row._mapping)


def get_client(conn: sa.Connection, client_id: int) -> ClientRecord:
    """The client with `client_id`; raises NotFoundError."""
    row = conn.execute(sa.select(clients).where(clients.c.id == client_id)).first()
    if row is None:
        raise NotFoundError(f"client {client_id} does not exist")
    return client_record(row._mapping)


def update_client(
    conn: sa.Connection, client_id: int, data: ClientUpdate, settings: Settings, now: datetime
) -> ClientRecord:
    """Change the fields present in `data` (an explicit null clears an address, resets
    `channels` to every channel with an address, or empties `opt_out`).

    Raises NotFoundError, or InvalidFieldError when the result would be invalid.
    """
    current = get_client(conn, client_id)
    merged: dict[str, Any] = {
        "name": current.name,
        "email": current.email,
        "phone": current.phone,
        "whatsapp": current.whatsapp,
        "locale": current.locale,
        "timezone": current.timezone,
        "channels": list(current.channels),
        "opt_out": sorted(current.opt_out),
    }
    changes = data.model_dump(include=data.model_fields_set)
    for required in ("name", "locale", "timezone"):
        if required in changes and changes[required] is None:
            raise InvalidFieldError(required, "cannot be null")
    merged.update(changes)
    if "channels" not in changes and {"email", "phone", "whatsapp"} & set(changes):
        # Contacts changed but not the preference: keep the preference where still possible.
        addresses = {
            Channel.email: merged["email"],
            Channel.sms: merged["phone"],
            Channel.whatsapp: merged["whatsapp"],
        }
        merged["channels"] = [c for c in current.channels if addresses[c]] or None
    if merged["opt_out"] is None:
        merged["opt_out"] = []
    values = client_values(ClientCreate.model_validate(merged), settings)
    row = conn.execute(
        sa.update(clients)
        .where(clients.c.id == client_id)
        .values(**values, updated_at=now)
        .returning(*clients.c)
    ).one()
    return client_record(row._mapping)


def list_clients(
    conn: sa.Connection, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[ClientRecord], str | None]:
    """Clients in id order, `limit` at a time; returns (page, cursor of the next page)."""
    query = sa.select(clients).order_by(clients.c.id).limit(limit + 1)
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        query = query.where(clients.c.id > cursor_id(after))
    rows = [client_record(r._mapping) for r in conn.execute(query)]
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def client_record(row: Any) -> ClientRecord:
    """A `ClientRecord` from a `clients` row mapping."""
    return ClientRecord(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        whatsapp=row["whatsapp"],
        locale=row["locale"],
        timezone=row["timezone"],
        channels=tuple(Channel(c) for c in row["channels"]),
        opt_out=frozenset(Channel(c) for c in row["opt_out"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def client_public(record: ClientRecord) -> ClientPublic:
    """The API shape of a client."""
    return ClientPublic(
        id=record.id,
        name=record.name,
        email=record.email,
        phone=record.phone,
        whatsapp=record.whatsapp,
        locale=record.locale,
        timezone=record.timezone,
        channels=list(record.channels),
        opt_out=sorted(record.opt_out),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )
