"""`alert_state` rows: read them, and write a transition only if nobody else did first.

Each write is conditional on the row's `version` (or, for a new subject, on the insert
landing), so when two processes check at once exactly one of them sends the alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.alerts.rules import StoredState
from avisa.db.tables import alert_state
from avisa.domain.sql import insert_or_skip

_COLUMNS = (
    "subject",
    "state",
    "since",
    "detail",
    "failure_marker",
    "alerted_marker",
    "notified",
    "last_alert_at",
    "last_alert_kind",
    "last_error",
    "version",
)


def load_states(engine: Engine) -> dict[str, StoredState]:
    """Every stored subject, by subject."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(alert_state.c[c] for c in _COLUMNS))).all()
    return {row.subject: StoredState(**row._asdict()) for row in rows}


def apply(
    engine: Engine,
    subject: str,
    stored: StoredState | None,
    values: dict[str, Any],
    now: datetime,
) -> bool:
    """Write `values` for `subject` if its row is still as `stored` saw it.

    Returns whether this call's write landed (then, and only then, its alert is ours).
    """
    with engine.begin() as conn:
        if stored is None:
            row = {
                "subject": subject,
                "state": "ok",
                "since": now,
                "detail": "",
                "notified": False,
                "version": 1,
                "updated_at": now,
                **values,
            }
            stmt = insert_or_skip(conn, alert_state, [alert_state.c.subject]).values(**row)
            # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
            landed = conn.execute(stmt.returning(alert_state.c.subject)).first()
            return landed is not None
        result = conn.execute(
            sa.update(alert_state)
            .where(alert_state.c.subject == subject, alert_state.c.version == stored.version)
            .values(**values, version=stored.version + 1, updated_at=now)
        )
        return result.rowcount == 1


def record_delivery_error(engine: Engine, subject: str, error: str | None, now: datetime) -> None:
    """Note why the last alert of `subject` was not delivered (None: it was)."""
    with engine.begin() as conn:
        conn.execute(
            sa.update(alert_state)
            .where(alert_state.c.subject == subject)
            .values(last_error=error, updated_at=now)
        )


def forget(engine: Engine, subjects: list[str]) -> None:
    """Drop the state of subjects that no longer exist (a deleted job)."""
    if subjects:
        with engine.begin() as conn:
            conn.execute(sa.delete(alert_state).where(alert_state.c.subject.in_(subjects)))
