"""Schema migrations: upgrade to head, downgrade, and compare local and applied revisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@dataclass(frozen=True)
class MigrationStatus:
    """Applied revisions in the database against the revisions this code ships."""

    applied: tuple[str, ...]
    heads: tuple[str, ...]
    missing: tuple[str, ...]
    """Revisions this code ships that the database has not applied, oldest first."""
    unknown: tuple[str, ...]
    """Revisions the database has applied that this code does not know (a newer release?)."""

    @property
    def in_sync(self) -> bool:
        return not self.missing and not self.unknown

    def describe(self) -> str:
        """One human line: "in sync at X", or what is missing or unknown."""
        if self.in_sync:
            return f"in sync at {', '.join(self.heads)}"
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} not applied: {', '.join(self.missing)}")
        if self.unknown:
            parts.append(
                f"database has revisions this version does not know: {', '.join(self.unknown)}"
            )
        return "; ".join(parts)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Revert migrations down to `revision` in one transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def status(engine: Engine) -> MigrationStatus:
    """Compare the database's applied revisions with the ones this code ships."""
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as connection:
        applied = tuple(MigrationContext.configure(connection).get_current_heads())
    heads = tuple(script.get_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = tuple(rev for rev in applied if rev not in known)
    reachable: set[str] = set()
    for rev in applied:
        if rev in known:
            reachable.update(r.revision for r in script.iterate_revisions(rev, "base"))
    ordered = [rev.revision for rev in script.walk_revisions()]
    missing = tuple(reversed([rev for rev in ordered if rev not in reachable]))
    return MigrationStatus(applied=applied, heads=heads, missing=missing, unknown=unknown)
