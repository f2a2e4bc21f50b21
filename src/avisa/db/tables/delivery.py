"""`delivery_outbox`: what the console providers "sent", for a person to read.

A fresh install has no provider account; the console providers record each rendered
message here (and as a file under the data dir) with a note saying it was not sent, so the
whole flow can be watched end to end. Real providers keep no copy of the message: the
notification row holds the provider's message id.
"""

from __future__ import annotations

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import UTCDateTime

NOT_SENT = "not sent: console provider (records messages, delivers nothing)"

delivery_outbox = sa.Table(
    "delivery_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "notification_id",
        sa.Integer,
        sa.ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=True),
    # SMS only: how many segments the body costs (GSM-7 or UCS-2).
    sa.Column("segments", sa.Integer, nullable=True),
    sa.Column("note", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)
