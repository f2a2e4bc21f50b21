"""Every table avisa declares. Importing this package registers them all on `metadata`."""

from avisa.db.metadata import metadata
from avisa.db.tables.alerts import alert_state
from avisa.db.tables.cron import cron_job, cron_job_run_details, cron_state, cron_worker
from avisa.db.tables.delivery import delivery_outbox
from avisa.db.tables.domain import appointments, clients, notifications
from avisa.db.tables.functions import cron_execution_logs
from avisa.db.tables.instance import avisa_instance
from avisa.db.tables.messaging import inbound_messages, message_events
from avisa.db.tables.vault import vault_audit, vault_keys, vault_secret_versions, vault_secrets

__all__ = [
    "alert_state",
    "appointments",
    "avisa_instance",
    "clients",
    "cron_execution_logs",
    "cron_job",
    "cron_job_run_details",
    "cron_state",
    "cron_worker",
    "delivery_outbox",
    "inbound_messages",
    "message_events",
    "metadata",
    "notifications",
    "vault_audit",
    "vault_keys",
    "vault_secret_versions",
    "vault_secrets",
]
