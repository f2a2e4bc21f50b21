"""Migrations: head matches the declared tables; down and up again work; status is exact."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from avisa.db import migrate
from avisa.db.tables import metadata


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_yields_exactly_the_declared_tables(engine: Engine) -> None:
    """Autogenerate finds no difference between head and the code's tables."""
    migrate.upgrade(engine)
    assert _tables(engine) == set(metadata.tables)
    assert _differences(engine) == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert _tables(engine) == set()
    migrate.upgrade(engine)
    assert _tables(engine) == set(metadata.tables)
    assert _differences(engine) == []


def test_status_on_empty_database_lists_every_revision_missing(engine: Engine) -> None:
    state = migrate.status(engine)
    assert state.applied == ()
    assert not state.in_sync
    assert state.missing[-1] == state.heads[0]
    assert state.describe().startswith(f"{len(state.missing)} not applied:")


def test_status_in_sync_after_upgrade(engine: Engine) -> None:
    migrate.upgrade(engine)
    state = migrate.status(engine)
    assert state.in_sync
    assert state.applied == state.heads
    assert state.describe() == f"in sync at {state.heads[0]}"


def test_status_names_unknown_revisions(engine: Engine) -> None:
    """A database migrated by a newer avisa is reported, not silently accepted."""
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    state = migrate.status(engine)
    assert state.unknown == ("from_the_future",)
    assert "does not know: from_the_future" in state.describe()
