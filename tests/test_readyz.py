"""`/readyz` as a load balancer uses it, over a real socket: no key, bounded in time even
when the database hangs, cheap (no rows written), never cached, and secret-free."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.config import load_settings
from avisa.services import Services, build_services
from avisa.setup import initialise
from avisa.web import create_app
from avisa.web.health import READY_TIMEOUT
from tests.support.net import free_port
from tests.support.server import serve_app

#: "Answers within the bound": the check's timeout plus generous room for a busy machine.
BOUND = READY_TIMEOUT + 3.0


@pytest.fixture
def base_url(services: Services) -> Iterator[str]:
    with serve_app(create_app(services)) as url:
        yield url


def _row_counts(engine: Engine) -> dict[str, int]:
    names = sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in names
        }


def _offline_services(tmp_path: Path, database_url: str) -> Services:
    settings = load_settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url)
    return build_services(settings)


def test_ready_answers_200_without_a_key_and_is_never_cached(base_url: str) -> None:
    answer = httpx.get(f"{base_url}/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok", "vault": "ok"}}
    assert answer.headers["cache-control"] == "no-store"
    alive = httpx.get(f"{base_url}/healthz")
    assert alive.json() == {"status": "ok"}
    assert alive.headers["cache-control"] == "no-store"


def test_head_probes_answer_without_a_body(base_url: str) -> None:
    """Load balancers that probe with HEAD get the same status and no body."""
    for path in ("/readyz", "/healthz"):
        answer = httpx.head(f"{base_url}{path}")
        assert answer.status_code == 200, path
        assert answer.content == b"", path
        assert answer.headers["cache-control"] == "no-store", path


def test_the_openapi_document_lists_get_only(base_url: str) -> None:
    """HEAD stays out of the schema (one operation per probe, no duplicate operation ids)."""
    paths = httpx.get(f"{base_url}/openapi.json").json()["paths"]
    assert set(paths["/readyz"]) == {"get"}
    assert set(paths["/healthz"]) == {"get"}


def test_many_probes_write_no_rows(base_url: str, services: Services) -> None:
    """Probing is cheap: a hundred GET and HEAD probes leave every table as it was (no vault
    audit row for the unseal check, no row anywhere)."""
    before = _row_counts(services.engine)
    assert "vault_audit" in before
    with httpx.Client(base_url=base_url) as client:
        for _ in range(50):
            assert client.get("/readyz").status_code == 200
            assert client.head("/readyz").status_code == 200
    assert _row_counts(services.engine) == before


def test_concurrent_probes_all_answer(base_url: str) -> None:
    """Probes arriving together share the checks and all get the answer."""
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.get(f"{base_url}/readyz"), range(24)))
    assert {answer.status_code for answer in answers} == {200}


def test_sqlite_probe_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    """On SQLite a long write elsewhere does not make the process unready: the probe reads
    without taking the write lock that avisa's transactions take (they would queue on the
    10 s busy timeout)."""
    services = _offline_services(tmp_path, f"sqlite:///{tmp_path / 'data' / 'avisa.db'}")
    initialise(services)
    writer = sqlite3.connect(services.engine.url.database or "", isolation_level=None)
    try:
        with serve_app(create_app(services)) as base:
            writer.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            answer = httpx.get(f"{base}/readyz", timeout=BOUND + 10)
            elapsed = time.monotonic() - started
            writer.execute("ROLLBACK")
    finally:
        writer.close()
        services.close()
    assert answer.status_code == 200, answer.text
    assert elapsed < BOUND


def test_an_unreachable_database_is_503_within_the_bound(tmp_path: Path) -> None:
    """A PostgreSQL URL on a closed local port: 503 quickly, with a reason that names the
    failing check and neither the URL, its user, its password nor any SQL."""
    url = f"postgresql://nobody:hunter2@127.0.0.1:{free_port()}/nowhere"
    services = _offline_services(tmp_path, url)
    try:
        with serve_app(create_app(services)) as base:
            assert httpx.get(f"{base}/healthz").status_code == 200
            started = time.monotonic()
            answer = httpx.get(f"{base}/readyz", timeout=BOUND + 10)
            elapsed = time.monotonic() - started
            head = httpx.head(f"{base}/readyz", timeout=BOUND + 10)
    finally:
        services.close()
    assert elapsed < BOUND
    assert answer.status_code == 503
    assert head.status_code == 503
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "unreachable (OperationalError)"
    assert body["reason"].startswith("database: unreachable (OperationalError)")
    for leak in ("nobody", "hunter2", "nowhere", "127.0.0.1", "postgresql", "SELECT"):
        assert leak not in answer.text


class _Blackhole:
    """A TCP listener that accepts connections and never says a word: a hung database."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()
        self._thread.join(5)


@pytest.mark.timeout(60)
def test_a_hung_database_is_503_within_the_bound_and_costs_one_thread(tmp_path: Path) -> None:
    """The server accepts the connection and never answers (no connect timeout would end
    it): every probe, one after another or many at once, answers 503 within the bound,
    and the process runs one check at a time, not one stuck thread per probe."""
    hole = _Blackhole()
    services = _offline_services(tmp_path, f"postgresql://avisa@127.0.0.1:{hole.port}/avisa")
    try:
        with serve_app(create_app(services)) as base:
            started = time.monotonic()
            first = httpx.get(f"{base}/readyz", timeout=BOUND + 10)
            assert time.monotonic() - started < BOUND
            with ThreadPoolExecutor(6) as pool:
                started = time.monotonic()
                together = list(
                    pool.map(lambda _: httpx.get(f"{base}/readyz", timeout=BOUND + 10), range(6))
                )
                assert time.monotonic() - started < BOUND
            checking = [t for t in threading.enumerate() if t.name == "avisa-readyz"]
            hole.close()  # the stuck connection attempt fails; the check ends
    finally:
        hole.close()
        services.close()
    assert len(checking) == 1
    for answer in (first, *together):
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"] == f"no answer within {READY_TIMEOUT:g} s"
        assert answer.json()["reason"].startswith("database: no answer within")


def test_a_sealed_vault_is_the_reason(services: Services, base_url: str) -> None:
    services.vault.keystore.source.path.unlink()
    answer = httpx.get(f"{base_url}/readyz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["checks"]["database"] == "ok"
    assert body["reason"].startswith("vault: sealed: vault is sealed: no root key")


def test_a_database_that_comes_back_makes_the_process_ready_again(tmp_path: Path) -> None:
    """Readiness is not latched: each probe checks anew (the SQLite file's folder appears)."""
    folder = tmp_path / "later"
    folder.write_text("a file where the database's folder should be")
    services = _offline_services(tmp_path, f"sqlite:///{folder / 'avisa.db'}")
    try:
        with serve_app(create_app(services)) as base:
            down = httpx.get(f"{base}/readyz", timeout=BOUND + 10)
            folder.unlink()
            up = httpx.get(f"{base}/readyz", timeout=BOUND + 10)
    finally:
        services.close()
    assert down.status_code == 503
    assert down.json()["checks"]["database"] != "ok"
    assert up.json()["checks"]["database"] == "ok"
