"""`clients`, `appointments` and `notifications`: the business half of avisa.

Instants are `UTCDateTime` (stored in UTC, rendered in the appointment's zone by the API);
amounts are exact decimals (`Money`). The notifications key (appointment, kind, channel,
planned start) is what makes planning idempotent: every planner inserts with "on conflict
do nothing", so planning twice, or two sweeps at once, never yields a second reminder.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from avisa.db.metadata import metadata
from avisa.db.types import JSONType, UTCDateTime


class Money(sa.TypeDecorator[Decimal]):
    """An exact decimal amount: `numeric(14, 3)` on PostgreSQL.

    SQLite has no decimal type and SQLAlchemy warns when asked to pretend; there the value
    travels as a float and comes back through `repr`, which round-trips every amount of up
    to 15 significant digits exactly (far beyond any appointment's price).
    """

    impl = sa.Numeric(14, 3)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(14, 3, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(14, 3))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return float(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(repr(value))


APPOINTMENT_STATUSES = ("scheduled", "confirmed", "completed", "cancelled", "no_show")
NOTIFICATION_STATUSES = ("pending", "sending", "sent", "failed", "cancelled", "skipped")
CHANNELS = ("email", "sms", "whatsapp")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("phone", sa.String(20), nullable=True),
    sa.Column("whatsapp", sa.String(20), nullable=True),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    # Ordered preference; every listed channel has a recipient (checked on write).
    sa.Column("channels", JSONType, nullable=False),
    # Channels the client asked not to be contacted on; planning records them as skipped.
    sa.Column("opt_out", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "client_id",
        sa.Integer,
        sa.ForeignKey("clients.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
    sa.Column("service", sa.String(200), nullable=False),
    sa.Column("staff", sa.String(200), nullable=True),
    sa.Column("location", sa.String(300), nullable=True),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_amount", Money, nullable=False),
    sa.Column("paid_amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("external_id", sa.String(128), nullable=True, unique=True),
    sa.Column("confirmed_at", UTCDateTime, nullable=True),
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    sa.Column("completed_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status"),
    sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    sa.CheckConstraint("total_amount >= 0", name="total_not_negative"),
    sa.CheckConstraint("paid_amount >= 0", name="paid_not_negative"),
    sa.CheckConstraint("paid_amount <= total_amount", name="paid_within_total"),
    # The status updater's scan: open appointments whose end has passed.
    sa.Index("ix_appointments_status_ends_at", "status", "ends_at"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "appointment_id",
        sa.Integer,
        sa.ForeignKey("appointments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # The appointment's client, copied for lookups by client. No foreign key: the
    # appointment's own key already guarantees it, and a second check costs the sweep
    # about 15% of its time (bench/reminders.py).
    sa.Column("client_id", sa.Integer, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("planned_start", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("provider", sa.String(32), nullable=True),
    sa.Column("provider_message_id", sa.String(128), nullable=True, index=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint(
        "appointment_id", "kind", "channel", "planned_start", name="uq_notifications_plan_key"
    ),
    sa.CheckConstraint(_in("status", NOTIFICATION_STATUSES), name="status"),
    sa.CheckConstraint(_in("channel", CHANNELS), name="channel"),
    sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    # The delivery worker's scan: what is due now, by status.
    sa.Index("ix_notifications_status_due_at", "status", "due_at"),
)
