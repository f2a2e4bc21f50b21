"""`cron_execution_logs`: one row per HTTP function invocation, as the original system keeps.

`job_name` is the cron job that called the function when known (the scheduler sends it in
the `X-Avisa-Job` header), else the function's name. `details` holds counts, the duration
and, on failure, the error class; never a secret.
"""

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import JSONType, UTCDateTime

cron_execution_logs = sa.Table(
    "cron_execution_logs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("job_name", sa.String(200), nullable=False, index=True),
    sa.Column("function_name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("details", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
    sa.CheckConstraint("status IN ('success', 'failed')", name="status"),
)
