"""`avisa_instance`: one row describing this installation.

`avisa init` writes it once. `installed_at` lets checks such as `avisa verify` tell a new
installation (no runs yet, and rightly so) from a broken one.
"""

import sqlalchemy as sa

from avisa.db.metadata import metadata
from avisa.db.types import UTCDateTime

avisa_instance = sa.Table(
    "avisa_instance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("installed_at", UTCDateTime, nullable=False),
    sa.Column("installed_version", sa.String(32), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
