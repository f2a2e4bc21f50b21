"""The sealed state: a missing, loose, malformed or wrong root key is a clear error, never a
crash and never a plaintext fallback; putting the key back unseals without a restart."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from avisa.errors import VaultSealedError
from avisa.services import Services, build_services
from avisa.setup import initialise
from avisa.vault.service import Vault
from avisa.web import create_app
from tests.support.server import serve_app


def _key_file(services: Services) -> Path:
    return services.vault.keystore.source.path


def test_missing_key_file_seals_and_restoring_it_unseals(services: Services, vault: Vault) -> None:
    vault.create_secret("value", "kept")
    key_file = _key_file(services)
    saved = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(VaultSealedError) as info:
        vault.get_secret("kept")
    message = str(info.value)
    assert "vault is sealed: no root key" in message
    assert str(key_file) in message
    assert "AVISA_ROOT_KEY" in message
    with pytest.raises(VaultSealedError):
        vault.create_secret("other", "new")
    key_file.write_bytes(saved)
    key_file.chmod(0o600)
    assert vault.get_secret("kept") == "value"


def test_loose_permissions_are_refused(services: Services, vault: Vault) -> None:
    key_file = _key_file(services)
    key_file.chmod(0o644)
    with pytest.raises(VaultSealedError, match=r"accessible to other users \(mode 0644\)") as info:
        vault.get_secret("JWT_SECRET")
    assert f"chmod 600 {key_file}" in str(info.value)


def test_malformed_key_file_is_refused(services: Services, vault: Vault) -> None:
    key_file = _key_file(services)
    key_file.write_text("this is not a key")
    with pytest.raises(VaultSealedError, match="is not a valid avisa root key"):
        vault.get_secret("JWT_SECRET")


def test_wrong_key_is_named_as_wrong(make_settings: Any, services: Services) -> None:
    """A different key (say, a fresh `init` elsewhere) is recognised before any decryption."""
    other = base64.b64encode(os.urandom(32)).decode()
    wrong = build_services(
        make_settings(root_key=other), engine=services.engine, clock=services.clock
    )
    with pytest.raises(VaultSealedError, match="is not the one this database was encrypted with"):
        wrong.vault.get_secret("JWT_SECRET")


def test_root_key_from_environment(make_settings: Any, services: Services) -> None:
    """AVISA_ROOT_KEY may hold the keyring itself; then no file is needed."""
    keyring_text = _key_file(services).read_text()
    _key_file(services).unlink()
    from_env = build_services(
        make_settings(root_key=keyring_text), engine=services.engine, clock=services.clock
    )
    assert from_env.vault.get_secret("SERVICE_ROLE_KEY").count(".") == 2


def test_init_never_replaces_a_lost_key(make_settings: Any, services: Services) -> None:
    """Supabase's "invalid ciphertext" trap: init must not mint a new key over old secrets."""
    _key_file(services).unlink()
    again = build_services(make_settings(), engine=services.engine, clock=services.clock)
    with pytest.raises(VaultSealedError, match="no root key"):
        initialise(again)
    assert not _key_file(services).exists()


def test_service_starts_sealed_and_readyz_says_why(services: Services) -> None:
    _key_file(services).unlink()
    with serve_app(create_app(services)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz")
        answer = httpx.get(f"{url}/api/v1/vault/secrets", headers={"Authorization": "Bearer x.y.z"})
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["vault"].startswith("sealed: vault is sealed: no root key")
    assert answer.status_code == 503
    assert answer.json() == {
        "error": {"message": "vault is sealed: service keys cannot be checked"}
    }
