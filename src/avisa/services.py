"""The objects a running avisa shares: settings, engine, clock.

Built once by an entry point (`build_services`) and handed down; nothing is a module-level
singleton, so tests build as many independent instances as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from avisa.clock import Clock, SystemClock
from avisa.config import Settings
from avisa.db.engine import create_engine


@dataclass
class Services:
    """Everything long-lived a process needs. The creator disposes of it with `close()`."""

    settings: Settings
    engine: Engine
    clock: Clock = field(default_factory=SystemClock)

    def close(self) -> None:
        self.engine.dispose()


def build_services(
    settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None
) -> Services:
    """Create the shared objects for `settings`; pass `engine`/`clock` to reuse or fake them."""
    return Services(
        settings=settings,
        engine=engine or create_engine(settings),
        clock=clock or SystemClock(),
    )
