"""`alert_state`: one row per watched subject (a job, a function's executions, `verify`).

The row is the memory that keeps alerts rare: the current state, whether the current
failure has been announced, and when the last alert went out. Transitions are claimed by
a conditional UPDATE on (subject, version), so two processes checking at once send one
alert, not two.
"""

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import UTCDateTime

ALERT_STATES = ("ok", "failing")

alert_state = sa.Table(
    "alert_state",
    metadata,
    # "job:<jobname>", "execution:<job_name>" or "verify".
    sa.Column("subject", sa.String(300), primary_key=True),
    sa.Column("state", sa.String(8), nullable=False),
    # When the subject entered its current state.
    sa.Column("since", UTCDateTime, nullable=False),
    # Short, secret-free text: the failing run's message, the red checks.
    sa.Column("detail", sa.Text, nullable=False),
    # The latest failure seen (a runid, a log id) and the one last announced: a reminder
    # goes out only for a failure newer than the announced one.
    sa.Column("failure_marker", sa.String(64), nullable=True),
    sa.Column("alerted_marker", sa.String(64), nullable=True),
    # Whether the current failure was announced; a recovery is announced only then.
    sa.Column("notified", sa.Boolean, nullable=False),
    sa.Column("last_alert_at", UTCDateTime, nullable=True),
    sa.Column("last_alert_kind", sa.String(16), nullable=True),
    # Why the last alert could not be delivered (never a credential).
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("state IN ('ok', 'failing')", name="state"),
)
