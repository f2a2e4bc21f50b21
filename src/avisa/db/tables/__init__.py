"""Every table avisa declares. Importing this package registers them all on `metadata`."""

from avisa.db.metadata import metadata
from avisa.db.tables.cron import cron_job, cron_job_run_details, cron_state, cron_worker
from avisa.db.tables.instance import avisa_instance

__all__ = [
    "avisa_instance",
    "cron_job",
    "cron_job_run_details",
    "cron_state",
    "cron_worker",
    "metadata",
]
