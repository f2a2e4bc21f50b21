"""Every table avisa declares. Importing this package registers them all on `metadata`."""

from avisa.db.metadata import metadata
from avisa.db.tables.instance import avisa_instance

__all__ = ["avisa_instance", "metadata"]
