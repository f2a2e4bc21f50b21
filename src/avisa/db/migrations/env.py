"""Alembic environment: runs migrations on the connection avisa hands over.

avisa always calls Alembic through `avisa.db.migrate`, which passes an open connection in
`config.attributes["connection"]`; running the `alembic` command directly also works when
`sqlalchemy.url` is set.
"""

from __future__ import annotations

from alembic import context

from avisa.db.engine import create_engine
from avisa.db.tables import metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
