"""Delivery receipts: record each one, move the notification's delivery state forward only.

Every receipt becomes one `message_events` row, keyed on (provider, message id, provider
status): a replayed callback finds its row and changes nothing. A receipt is *applied*
when its state ranks above every state applied before for the same message (see
`states`); then the notification is updated:

- `delivered` / `read`: `delivered_at` is set (once; a read message was delivered), and a
  notification a receipt had marked `failed` goes back to `sent` — the message arrived;
- `failed`: a `sent` notification not yet delivered becomes `failed`, with the provider's
  error code and text in `last_error`.

The read time and the best state are kept in `message_events` (the notifications table
has no column for them) and read back with `delivery_views`.
Functions take an open connection and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from avisa.db.tables import message_events, notifications
from avisa.domain.model import NotificationStatus
from avisa.domain.sql import insert_or_skip
from avisa.messaging.payloads import Receipt
from avisa.messaging.states import DeliveryState, advances, best, state_of

_e, _n = message_events.c, notifications.c
_SENT, _FAILED = NotificationStatus.sent.value, NotificationStatus.failed.value
MAX_ERROR_TEXT = 300


@dataclass(frozen=True)
class ReceiptResult:
    """What recording a receipt did. `recorded` is False for a replay."""

    recorded: bool
    applied: bool
    state: DeliveryState
    notification_id: int | None


def record_receipt(conn: sa.Connection, receipt: Receipt, now: datetime) -> ReceiptResult:
    """Record `receipt` and apply it to its notification if it moves the state forward.

    The notification's row is locked first (PostgreSQL; SQLite's write lock is held from
    BEGIN), so receipts for one message are judged one after the other.
    """
    state = state_of(receipt.provider, receipt.provider_status)
    key = (_e.provider == receipt.provider, _e.provider_message_id == receipt.provider_message_id)
    notification_id: int | None = conn.execute(
        sa.select(_n.id)
        .where(
            _n.provider == receipt.provider,
            _n.provider_message_id == receipt.provider_message_id,
        )
        .order_by(_n.id)
        .limit(1)
        .with_for_update()
    ).scalar()
    seen = conn.execute(sa.select(_e.status).where(*key, _e.applied.is_(True))).scalars()
    applied = advances(best([DeliveryState(s) for s in seen]), state)
    inserted = conn.execute(
        insert_or_skip(
            conn, message_events, [_e.provider, _e.provider_message_id, _e.provider_status]
        )
        .values(
            notification_id=notification_id,
            provider=receipt.provider,
            provider_message_id=receipt.provider_message_id,
            provider_status=receipt.provider_status[:32],
            status=state.value,
            error_code=receipt.error_code,
            error_message=(receipt.error_message or None)
            and receipt.error_message[:MAX_ERROR_TEXT],
            provider_timestamp=receipt.provider_timestamp,
            applied=applied,
            received_at=now,
        )
        .returning(_e.id)
    ).first()
    if inserted is None:
        return ReceiptResult(False, False, state, notification_id)
    if applied and notification_id is not None:
        _apply(conn, notification_id, state, receipt, now)
    return ReceiptResult(True, applied, state, notification_id)


def _apply(
    conn: sa.Connection, notification_id: int, state: DeliveryState, receipt: Receipt, now: datetime
) -> None:
    at = receipt.provider_timestamp or now
    if state in (DeliveryState.delivered, DeliveryState.read):
        was_failed = _n.status == _FAILED
        conn.execute(
            sa.update(notifications)
            .where(_n.id == notification_id, _n.status.in_((_SENT, _FAILED)))
            .values(
                delivered_at=sa.func.coalesce(_n.delivered_at, at),
                status=sa.case((was_failed, _SENT), else_=_n.status),
                last_error=sa.case((was_failed, None), else_=_n.last_error),
                updated_at=now,
            )
        )
    elif state is DeliveryState.failed:
        conn.execute(
            sa.update(notifications)
            .where(_n.id == notification_id, _n.status == _SENT, _n.delivered_at.is_(None))
            .values(status=_FAILED, last_error=failure_text(receipt), updated_at=now)
        )


def failure_text(receipt: Receipt) -> str:
    """`30003: Unreachable destination` — the code first, as the delivery worker writes it."""
    words = receipt.error_message or f"the provider reported {receipt.provider_status}"
    text = f"{receipt.error_code}: {words}" if receipt.error_code else words
    return text[:MAX_ERROR_TEXT]


@dataclass(frozen=True)
class DeliveryView:
    """A notification's delivery as its receipts tell it (all None without receipts)."""

    state: DeliveryState | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None


def delivery_views(conn: sa.Connection, notification_ids: Iterable[int]) -> dict[int, DeliveryView]:
    """The applied receipts of each notification, summed up; ids without any are absent.

    Receipts are matched by the provider's message id, not by `notification_id`, so a
    receipt that arrived before the worker wrote down the id still counts.
    """
    ids = list(notification_ids)
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(_n.id, _e.status, _e.provider_timestamp, _e.received_at)
        .select_from(
            notifications.join(
                message_events,
                sa.and_(
                    _e.provider == _n.provider,
                    _e.provider_message_id == _n.provider_message_id,
                ),
            )
        )
        .where(_n.id.in_(ids), _e.applied.is_(True))
    )
    by_id: dict[int, list[tuple[DeliveryState, datetime]]] = defaultdict(list)
    for nid, status, provider_at, received_at in rows:
        by_id[nid].append((DeliveryState(status), provider_at or received_at))
    views: dict[int, DeliveryView] = {}
    for nid, events in by_id.items():
        at = {state: when for state, when in events}
        read_at = at.get(DeliveryState.read)
        views[nid] = DeliveryView(
            state=best([s for s, _ in events]),
            delivered_at=at.get(DeliveryState.delivered) or read_at,
            read_at=read_at,
        )
    return views
