"""Root key rotation: rewrap without decrypting values, readable throughout, old key retired."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from avisa.db.tables.vault import vault_keys, vault_secret_versions, vault_secrets
from avisa.errors import VaultSealedError
from avisa.services import Services, build_services
from avisa.vault.keyring import KeyringSource
from avisa.vault.rotation import rotate_root_key
from avisa.vault.service import Vault


def _versions_in_use(vault: Vault) -> set[int]:
    with vault.engine.connect() as conn:
        a = conn.execute(sa.select(vault_secrets.c.key_version).distinct()).scalars().all()
        b = conn.execute(sa.select(vault_secret_versions.c.key_version).distinct()).scalars().all()
    return set(a) | set(b)


def test_rotation_rewraps_everything_and_retires_the_old_key(
    services: Services, vault: Vault
) -> None:
    vault.create_secret("one", "a")
    vault.update_secret("a", value="two")
    ciphertexts_before = _ciphertexts(vault)
    report = rotate_root_key(vault)
    assert report.new_version == 2
    assert report.retired_versions == (1,)
    assert report.rewrapped == 5  # JWT_SECRET, ANON_KEY, SERVICE_ROLE_KEY, a, a@v1
    assert _versions_in_use(vault) == {2}
    assert _ciphertexts(vault) == ciphertexts_before, "values must not be re-encrypted"
    assert vault.get_secret("a") == "two"
    assert vault.get_secret("a", version=1) == "one"
    keyring = KeyringSource(None, services.vault.keystore.source.path).load()
    assert keyring.versions == [2]
    with vault.engine.connect() as conn:
        keys = conn.execute(sa.select(vault_keys).order_by(vault_keys.c.version)).all()
    assert [(k.version, k.retired_at is not None) for k in keys] == [(1, True), (2, False)]
    assert rotate_root_key(vault).new_version == 3


def _ciphertexts(vault: Vault) -> set[bytes]:
    with vault.engine.connect() as conn:
        a = conn.execute(sa.select(vault_secrets.c.ciphertext)).scalars().all()
        b = conn.execute(sa.select(vault_secret_versions.c.ciphertext)).scalars().all()
    return set(a) | set(b)


def test_rotation_refused_when_the_key_comes_from_the_environment(
    make_settings: Any, services: Services
) -> None:
    text = services.vault.keystore.source.path.read_text()
    env_services = build_services(
        make_settings(root_key=text), engine=services.engine, clock=services.clock
    )
    with pytest.raises(VaultSealedError, match="comes from AVISA_ROOT_KEY"):
        rotate_root_key(env_services.vault)


def test_another_process_built_before_rotation_keeps_reading(
    make_settings: Any, services: Services, vault: Vault
) -> None:
    """A process whose cached keyring predates the rotation reloads the file when needed."""
    vault.create_secret("v", "shared")
    other = build_services(make_settings(), engine=services.engine, clock=services.clock)
    assert other.vault.get_secret("shared") == "v"
    rotate_root_key(vault)
    rotate_root_key(vault)
    assert other.vault.get_secret("shared") == "v"
    other.vault.update_secret("shared", value="w")
    assert vault.get_secret("shared") == "w"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_rotation_under_concurrent_reads_from_threads_and_a_process(
    services: Services, vault: Vault, database_url: str, tmp_path: Path
) -> None:
    values = {f"s{i}": f"value-{i}" for i in range(20)}
    for name, value in values.items():
        vault.create_secret(value, name)
    stop_file = tmp_path / "stop"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.vault_reader",
            str(services.settings.data_dir),
            database_url,
            str(stop_file),
            *[f"{k}={v}" for k, v in list(values.items())[:5]],
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    failures: list[str] = []
    reads = 0
    done = threading.Event()

    def read_loop() -> None:
        nonlocal reads
        while not done.is_set():
            for name, value in values.items():
                try:
                    if vault.get_secret(name) != value:
                        failures.append("WrongValue")
                    reads += 1
                except Exception as exc:
                    failures.append(type(exc).__name__)

    threads = [threading.Thread(target=read_loop) for _ in range(3)]
    for t in threads:
        t.start()
    ready = Path(f"{stop_file}.ready")
    deadline = time.monotonic() + 60
    while not ready.exists() and reader.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the reader process never read"
    for _ in range(4):
        rotate_root_key(vault)
    done.set()
    for t in threads:
        t.join()
    stop_file.touch()
    out, _ = reader.communicate(timeout=60)
    other = json.loads(out)
    assert failures == []
    assert other["failures"] == []
    assert reads > 0
    assert other["reads"] > 0
    assert _versions_in_use(vault) == {5}


class VaultMachine(RuleBasedStateMachine):
    """Any interleaving of create, update, rotate and read keeps every value readable."""

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[str, list[str]] = {}

    vault: Vault

    @initialize()
    def start(self) -> None:
        self.model = {}

    @rule(name=st.sampled_from(["a", "b", "c"]), value=st.text(min_size=1, max_size=20))
    def create_or_update(self, name: str, value: str) -> None:
        if name in self.model:
            self.vault.update_secret(name, value=value)
            self.model[name].append(value)
        else:
            self.vault.create_secret(value, name)
            self.model[name] = [value]

    @rule()
    def rotate(self) -> None:
        self.vault.rotate_root_key()

    @invariant()
    def everything_reads_back(self) -> None:
        for name, history in self.model.items():
            assert self.vault.get_secret(name) == history[-1]
            current = len(history)
            for version in range(max(1, current - 9), current + 1):
                assert self.vault.get_secret(name, version=version) == history[version - 1]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_state_machine(services: Services) -> None:
    counter = iter(range(10_000))

    class Bound(VaultMachine):
        def __init__(self) -> None:
            super().__init__()
            # Each example gets its own names, on the same initialised installation.
            run = next(counter)
            self.vault = _Prefixed(services.vault.with_actor("cli"), f"r{run}-")

    Bound.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    Bound.TestCase().runTest()


class _Prefixed(Vault):
    """A vault view that namespaces names, so hypothesis examples never collide."""

    def __init__(self, inner: Vault, prefix: str) -> None:
        super().__init__(inner.engine, inner.keystore, inner.clock, inner.actor)
        self._prefix = prefix

    def create_secret(self, value: str, name: str, description: str = "") -> Any:
        return super().create_secret(value, self._prefix + name, description)

    def update_secret(self, name_or_id: str, *args: Any, **kwargs: Any) -> Any:
        return super().update_secret(self._prefix + name_or_id, *args, **kwargs)

    def get_secret(self, name_or_id: str, version: int | None = None) -> str:
        return super().get_secret(self._prefix + name_or_id, version)
