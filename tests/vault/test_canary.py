"""A canary secret value never appears where it must not: the database files, a dump, logs,
exception texts, reprs, or any API answer."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from avisa.db.engine import is_sqlite
from avisa.errors import AvisaError
from avisa.logging import configure_logging
from avisa.services import Services
from avisa.vault.rotation import rotate_root_key
from avisa.vault.service import Vault
from avisa.web import create_app
from tests.support.server import serve_app

CANARY = "canary-7f3a9c1e-do-not-leak"


def _exercise(vault: Vault) -> list[str]:
    """Create, update, read, rotate, fail; return the texts of every error raised."""
    vault.create_secret(CANARY, "CANARY")
    vault.update_secret("CANARY", value=CANARY + "-v2")
    vault.update_secret("CANARY", value=CANARY)
    assert vault.get_secret("CANARY") == CANARY
    rotate_root_key(vault)
    errors: list[str] = []
    for bad in (
        lambda: vault.create_secret(CANARY, "CANARY"),
        lambda: vault.create_secret(CANARY, "bad name"),
        lambda: vault.update_secret("CANARY", value=CANARY, expected_version=1),
        lambda: vault.create_secret(CANARY * 3000, "huge"),
        lambda: vault.get_secret("CANARY", version=99),
    ):
        with pytest.raises(AvisaError) as info:
            bad()
        errors += [str(info.value), repr(info.value)]
    return errors


def test_canary_never_reaches_storage_logs_or_errors(
    services: Services, vault: Vault, database_url: str
) -> None:
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    errors = _exercise(vault)
    for text in errors:
        assert CANARY not in text
    assert CANARY not in repr(vault)
    assert CANARY not in repr(services)
    assert CANARY not in stream.getvalue()
    if is_sqlite(services.engine):
        database = Path(make_url(database_url).database or "")
        files = [database, Path(f"{database}-wal")]
        blobs = [f.read_bytes() for f in files if f.exists()]
        assert blobs, "expected the SQLite file to exist"
        for blob in blobs:
            assert CANARY.encode() not in blob
    else:
        if shutil.which("pg_dump") is None:
            pytest.skip("pg_dump is not installed")
        url = make_url(database_url)
        dump = subprocess.run(
            [
                "pg_dump",
                "-h",
                url.host or "127.0.0.1",
                "-p",
                str(url.port or 5432),
                "-U",
                url.username or "postgres",
                "--inserts",
                url.database or "",
            ],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        assert b"vault_secrets" in dump
        assert CANARY.encode() not in dump


def test_canary_never_in_api_answers(services: Services, service_headers: dict[str, str]) -> None:
    with serve_app(create_app(services)) as url:
        client = httpx.Client(base_url=url, headers=service_headers)
        answers = [
            client.post("/api/v1/vault/secrets", json={"name": "CANARY", "value": CANARY}),
            client.get("/api/v1/vault/secrets"),
            client.get("/api/v1/vault/secrets/CANARY"),
            client.patch("/api/v1/vault/secrets/CANARY", json={"value": CANARY + "2"}),
            client.post("/api/v1/vault/secrets", json={"name": "CANARY", "value": CANARY}),
            client.post("/api/v1/vault/secrets", json={"name": "bad name", "value": CANARY}),
            client.patch(
                "/api/v1/vault/secrets/CANARY", json={"value": CANARY, "expected_version": 1}
            ),
            client.post("/api/v1/vault/secrets", json={"name": "x", "value": CANARY, "extra": 1}),
        ]
        client.close()
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 409, 422, 409, 422]
    for answer in answers:
        assert CANARY not in answer.text
