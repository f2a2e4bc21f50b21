"""`avisa init`: bring an installation to a runnable state, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from avisa import __version__
from avisa.alerts.job import ensure_alerts_job
from avisa.cron.runtime import ensure_purge_job
from avisa.db import migrate
from avisa.db.tables import avisa_instance
from avisa.errors import DatabaseError
from avisa.functions.setup import ensure_default_jobs
from avisa.services import Services
from avisa.vault.setup import ensure_vault


@dataclass
class InitReport:
    """What `initialise` changed; empty `changes` means the installation was already complete."""

    changes: list[str] = field(default_factory=list)


#: A step of `avisa init` after migration: makes what is missing, returns what it changed.
#: Each part of avisa (vault, scheduler, ...) lists its step here, in the order they run.
InitStep = Callable[[Services], list[str]]
INIT_STEPS: tuple[InitStep, ...] = (
    ensure_vault,
    ensure_purge_job,
    ensure_default_jobs,
    ensure_alerts_job,
)


def initialise(services: Services) -> InitReport:
    """Create the data dir, migrate to head, record the installation, then run `INIT_STEPS`.

    Safe to run any number of times: a second run changes nothing and reports no changes.
    """
    report = InitReport()
    data_dir = services.settings.data_dir
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        report.changes.append(f"created data dir {data_dir}")
    before = migrate.status(services.engine)
    if before.unknown:
        raise DatabaseError(
            f"the database is at a revision this avisa does not know ({before.describe()})",
            fix="run the avisa version that created it, or a newer one",
        )
    if not before.in_sync:
        migrate.upgrade(services.engine)
        after = migrate.status(services.engine)
        report.changes.append(f"migrated database to {', '.join(after.heads)}")
    with services.engine.begin() as connection:
        exists = connection.execute(sa.select(avisa_instance.c.id)).first()
        if exists is None:
            connection.execute(
                sa.insert(avisa_instance).values(
                    id=1, installed_at=services.clock.now(), installed_version=__version__
                )
            )
            report.changes.append("recorded the installation")
    for step in INIT_STEPS:
        report.changes.extend(step(services))
    return report
