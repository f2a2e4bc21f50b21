"""inbound_messages, message_events

Revision ID: 0008_messaging
Revises: 0007_alerts
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import avisa.db.types

revision: str = "0008_messaging"
down_revision: str | None = "0007_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("appointment_id", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answer_status", sa.String(length=16), nullable=True),
        sa.Column("answer_message_id", sa.String(length=128), nullable=True),
        sa.Column("answer_error", sa.Text(), nullable=True),
        sa.Column("provider_timestamp", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("received_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.Column("answered_at", avisa.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_inbound_messages_appointment_id_appointments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_inbound_messages_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            name=op.f("uq_inbound_messages_provider_provider_message_id"),
        ),
    )
    op.create_index(
        op.f("ix_inbound_messages_appointment_id"), "inbound_messages", ["appointment_id"]
    )
    op.create_index(op.f("ix_inbound_messages_client_id"), "inbound_messages", ["client_id"])
    op.create_index(
        "ix_inbound_messages_outcome_received_at", "inbound_messages", ["outcome", "received_at"]
    )
    op.create_table(
        "message_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("provider_status", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("provider_timestamp", avisa.db.types.UTCDateTime(), nullable=True),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("received_at", avisa.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_message_events_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
        sa.UniqueConstraint(
            "provider",
            "provider_message_id",
            "provider_status",
            name=op.f("uq_message_events_provider_provider_message_id_provider_status"),
        ),
    )
    op.create_index(
        op.f("ix_message_events_notification_id"), "message_events", ["notification_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_message_events_notification_id"), table_name="message_events")
    op.drop_table("message_events")
    op.drop_index("ix_inbound_messages_outcome_received_at", table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_client_id"), table_name="inbound_messages")
    op.drop_index(op.f("ix_inbound_messages_appointment_id"), table_name="inbound_messages")
    op.drop_table("inbound_messages")
