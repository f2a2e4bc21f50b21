"""`inbound_messages` and `message_events`: the two-way half of messaging.

`inbound_messages` holds every SMS or WhatsApp message a client (or a stranger) sent us:
who, on which channel, the text, what avisa understood and did, and the answer it sent
back. `message_events` holds every delivery receipt a provider posted (sent, delivered,
read, failed), matched to its notification when the provider's message id is one of ours.

Both are keyed on the provider's own ids, so a provider retrying a webhook (Twilio and
Meta both do) finds its row already there and nothing is done twice.
"""

from __future__ import annotations

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import UTCDateTime

inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # `twilio` or `meta`, and that provider's id of the message (SM…, wamid.…).
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("provider_message_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    # E.164 numbers: the sender, and the number of ours it was sent to.
    sa.Column("from_number", sa.String(32), nullable=False),
    sa.Column("to_number", sa.String(32), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    # confirm | cancel | stop | unknown: what the text was read as.
    sa.Column("intent", sa.String(16), nullable=False),
    # What it did (see avisa.messaging.inbound.Outcome).
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column(
        "client_id",
        sa.Integer,
        sa.ForeignKey("clients.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column(
        "appointment_id",
        sa.Integer,
        sa.ForeignKey("appointments.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    # The answer sent back (in the client's language), and how sending it went.
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("answer_status", sa.String(16), nullable=True),
    sa.Column("answer_message_id", sa.String(128), nullable=True),
    sa.Column("answer_error", sa.Text, nullable=True),
    sa.Column("provider_timestamp", UTCDateTime, nullable=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("provider", "provider_message_id"),
    # The dashboard's and the operator's question: what came in lately, and what was not
    # understood.
    sa.Index("ix_inbound_messages_outcome_received_at", "outcome", "received_at"),
)

message_events = sa.Table(
    "message_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # Null for a receipt about a message that is not a reminder (an answer to a reply, or
    # a message sent by something else on the same account).
    sa.Column(
        "notification_id",
        sa.Integer,
        sa.ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("provider_message_id", sa.String(128), nullable=False),
    # The provider's word (`undelivered`, `delivered`) and avisa's reading of it
    # (queued | sent | delivered | read | failed | other).
    sa.Column("provider_status", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(32), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("provider_timestamp", UTCDateTime, nullable=True),
    # Whether this receipt moved the notification's delivery state forward.
    sa.Column("applied", sa.Boolean, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # A replayed callback is the same (message, provider status): recorded once.
    sa.UniqueConstraint("provider", "provider_message_id", "provider_status"),
)
