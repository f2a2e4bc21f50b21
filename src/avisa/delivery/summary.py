"""Delivery figures for people: what was sent since the last hourly run, and the
dashboard's counts by channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables import notifications
from avisa.delivery.store import delivery_counts, last_run_of
from avisa.domain.model import Channel, NotificationStatus

__all__ = ["delivery_counts", "sent_since", "sent_since_last_run"]

_n = notifications.c


def sent_since(engine: Engine, since: datetime | None) -> dict[str, dict[str, int]]:
    """{"sent": {channel: n}, "failed": {channel: n}} for sends (and final failures)
    since `since` (ever, when None). Every channel is present."""
    sent = sa.select(_n.channel, sa.func.count()).where(_n.status == NotificationStatus.sent.value)
    failed = sa.select(_n.channel, sa.func.count()).where(
        _n.status == NotificationStatus.failed.value
    )
    if since is not None:
        sent = sent.where(_n.sent_at > since)
        failed = failed.where(_n.updated_at > since)
    result: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for label, query in (("sent", sent), ("failed", failed)):
            counts = {c.value: 0 for c in Channel}
            counts.update({ch: int(n) for ch, n in conn.execute(query.group_by(_n.channel))})
            result[label] = counts
    return result


def sent_since_last_run(engine: Engine, function_name: str) -> dict[str, Any]:
    """What delivery did since `function_name`'s previous execution log (JSON-ready):
    `{"since": iso or None, "sent": {...}, "failed": {...}}`."""
    since = last_run_of(engine, function_name)
    return {"since": since.isoformat() if since else None, **sent_since(engine, since)}
