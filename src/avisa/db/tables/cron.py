"""Scheduler tables: jobs, their run history, the workers running them, a change marker.

`cron_job` and `cron_job_run_details` keep pg_cron's names and meaning so that operators'
queries carry over. The unique key (jobid, scheduled_for) is what makes every tick run
exactly once: a worker runs a tick only if its insert of that row landed.
"""

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import JSONType, UTCDateTime

#: Run statuses, as pg_cron names them. A `starting` run with no worker is queued (overlap
#: policy `queue`) and waits for a worker to claim it.
RUN_STATUSES = ("starting", "running", "succeeded", "failed", "skipped")
OVERLAP_POLICIES = ("skip", "queue", "allow")

cron_job = sa.Table(
    "cron_job",
    metadata,
    sa.Column("jobid", sa.Integer, primary_key=True),
    sa.Column("jobname", sa.String(200), nullable=False, unique=True),
    sa.Column("schedule", sa.String(200), nullable=False),
    # {"type": "sql"|"http"|"function", ...}: see avisa.cron.commands. `{{secret:NAME}}`
    # references stay references here; values are resolved only at run time.
    sa.Column("command", JSONType, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("overlap", sa.String(8), nullable=False),
    sa.Column("timeout_seconds", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    # The next tick in UTC; NULL while the job is inactive.
    sa.Column("next_run_at", UTCDateTime, nullable=True, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("overlap IN ('skip', 'queue', 'allow')", name="overlap"),
    sa.CheckConstraint("timeout_seconds > 0", name="timeout_positive"),
)

cron_job_run_details = sa.Table(
    "cron_job_run_details",
    metadata,
    sa.Column("runid", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "jobid",
        sa.Integer,
        sa.ForeignKey("cron_job.jobid", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("scheduled_for", UTCDateTime, nullable=False, index=True),
    # "schedule" for ticks, "manual" for `avisa cron run` and the API's run endpoint.
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("return_message", sa.Text, nullable=True),
    sa.Column("start_time", UTCDateTime, nullable=True),
    sa.Column("end_time", UTCDateTime, nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("worker", sa.String(64), nullable=True),
    sa.UniqueConstraint("jobid", "scheduled_for"),
    sa.CheckConstraint(
        "status IN ('starting', 'running', 'succeeded', 'failed', 'skipped')", name="status"
    ),
)

#: One row per live scheduler process. A run whose worker's heartbeat is stale (or whose
#: worker row is gone) is failed as "worker lost" by any other worker.
cron_worker = sa.Table(
    "cron_worker",
    metadata,
    sa.Column("worker_id", sa.String(64), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False, index=True),
)

#: A single row whose `jobs_version` goes up with every change to `cron_job`. Workers on
#: SQLite poll it (cheaply) to re-arm their sleep; PostgreSQL also sends a NOTIFY.
cron_state = sa.Table(
    "cron_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("jobs_version", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
