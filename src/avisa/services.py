"""The objects a running avisa shares: settings, engine, clock, vault.

Built once by an entry point (`build_services`) and handed down; nothing is a module-level
singleton, so tests build as many independent instances as they like.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from avisa.clock import Clock, SystemClock
from avisa.config import Settings
from avisa.db.engine import create_engine
from avisa.vault.keyring import KeyringSource
from avisa.vault.keys import ServiceKeys
from avisa.vault.keystore import KeystoreCache
from avisa.vault.service import Vault


@dataclass
class Services:
    """Everything long-lived a process needs. The creator disposes of it with `close()`."""

    settings: Settings
    engine: Engine
    clock: Clock
    vault: Vault
    service_keys: ServiceKeys

    def close(self) -> None:
        self.engine.dispose()


def build_services(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> Services:
    """Create the shared objects for `settings`; pass `engine`/`clock` to reuse or fake them.

    Nothing here touches the disk or the network: a sealed vault or a database that is down
    shows up when used, so the service can still start and report it.
    """
    engine = engine or create_engine(settings)
    clock = clock or SystemClock()
    source = KeyringSource(settings.root_key, settings.root_key_path)
    vault = Vault(engine, KeystoreCache(source, engine), clock)
    return Services(
        settings=settings,
        engine=engine,
        clock=clock,
        vault=vault,
        service_keys=ServiceKeys(vault, clock),
    )
