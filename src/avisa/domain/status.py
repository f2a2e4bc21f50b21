"""`update_statuses`: close appointments whose end (plus a grace period) has passed.

One conditional UPDATE per configured transition (`AVISA_STATUS_MAPPING`, by default
`confirmed:completed,scheduled:no_show`), each counted by its row count, then the pending
notifications of closed appointments are cancelled. The WHERE clauses only match open,
overdue appointments, so a second run changes nothing more and concurrent runs cannot
apply a transition twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.clock import utc
from avisa.config import Settings
from avisa.db.tables import appointments
from avisa.domain.model import AppointmentStatus
from avisa.domain.sweep import CANCEL_REASONS, cancel_stale


@dataclass(frozen=True)
class StatusSummary:
    """What one run did: appointments moved per transition, notifications cancelled."""

    now: datetime
    cutoff: datetime
    transitions: dict[str, int] = field(default_factory=dict)
    """`"confirmed->completed": 3`, one entry per configured transition."""
    cancelled: dict[str, int] = field(default_factory=dict)

    @property
    def updated(self) -> int:
        return sum(self.transitions.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts, every configured transition present (zero when idle)."""
        return {
            "updated": self.updated,
            "transitions": dict(self.transitions),
            "notifications_cancelled": {
                r.value: self.cancelled.get(r.value, 0) for r in CANCEL_REASONS
            },
            "now": self.now.isoformat(),
            "ended_before": self.cutoff.isoformat(),
        }

    def message(self) -> str:
        """One line for a person, e.g. `updated 4 appointments (confirmed->completed 3, …)`."""
        details = ", ".join(f"{k} {v}" for k, v in self.transitions.items() if v)
        cancelled = sum(self.cancelled.values())
        return (
            f"updated {self.updated} appointment{'s' if self.updated != 1 else ''}"
            + (f" ({details})" if details else "")
            + f", cancelled {cancelled} pending notification{'s' if cancelled != 1 else ''}"
        )


def update_statuses(engine: Engine, settings: Settings, now: datetime) -> StatusSummary:
    """Apply each configured transition to appointments that ended before now - grace.

    `completed` also sets `completed_at` to the appointment's end. One transaction;
    idempotent. Raises SQLAlchemy's errors when the database fails (nothing is applied).
    """
    now = utc(now)
    cutoff = now - settings.status_grace
    a = appointments.c
    transitions: dict[str, int] = {}
    with engine.begin() as conn:
        for source, target in settings.status_mapping:
            values: dict[str, Any] = {"status": target, "updated_at": now}
            if target == AppointmentStatus.completed.value:
                values["completed_at"] = a.ends_at
            result = conn.execute(
                sa.update(appointments)
                .where(a.status == source, a.ends_at <= cutoff)
                .values(**values)
            )
            transitions[f"{source}->{target}"] = result.rowcount
        cancelled = cancel_stale(conn, now)
    return StatusSummary(now=now, cutoff=cutoff, transitions=transitions, cancelled=cancelled)
