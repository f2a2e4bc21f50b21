"""Shared fixtures: isolated settings, databases on SQLite and PostgreSQL, services."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from avisa.clock import FrozenClock
from avisa.config import Settings, load_settings
from avisa.db import migrate
from avisa.db.engine import create_engine
from avisa.services import Services, build_services
from avisa.setup import initialise
from tests.support.databases import postgres_database

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's AVISA_ variables or `.env`."""
    for key in list(os.environ):
        if key.startswith("AVISA_") and not key.startswith("AVISA_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'avisa.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the empty test database; fails the test if it leaks a connection."""
    engine = create_engine(database_url)
    try:
        yield engine
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedout() == 0, "test left a database connection checked out"
    finally:
        engine.dispose()


@pytest.fixture
def migrated_engine(engine: Engine) -> Engine:
    """The test database upgraded to head with the shipped migrations."""
    migrate.upgrade(engine)
    return engine


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Any:
    """Build settings for this test's data dir and database, with overrides."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "data_dir": tmp_path / "data",
            "database_url": database_url,
        }
        values.update(overrides)
        return load_settings(**values)

    return factory


@pytest.fixture
def services(make_settings: Any, migrated_engine: Engine, clock: FrozenClock) -> Services:
    """Services on an initialised installation (`avisa init` done) with a frozen clock.

    The root key file lives in the test's data dir; the service keys exist in the vault.
    """
    built = build_services(make_settings(), engine=migrated_engine, clock=clock)
    initialise(built)
    return built


@pytest.fixture
def service_key(services: Services) -> str:
    """The service_role key of the test installation."""
    return services.service_keys.keys()["service_role"]


@pytest.fixture
def anon_key(services: Services) -> str:
    return services.service_keys.keys()["anon"]


@pytest.fixture
def service_headers(service_key: str) -> dict[str, str]:
    """Headers that authenticate an admin API request."""
    return {"Authorization": f"Bearer {service_key}"}
