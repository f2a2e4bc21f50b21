"""The root keyring: versioned AES-256 keys kept outside the database.

Sources, in order: `AVISA_ROOT_KEY` (a base64 key, or a whole keyring in the file format),
else the keyring file (`AVISA_ROOT_KEY_FILE`, default `<data dir>/root.key`, mode 0600).
The file format is JSON: `{"format": "avisa-keyring/1", "keys": {"1": "<base64>", ...}}`.
Which version is active for new writes is decided by the database (`vault_keys`), so that
all processes agree; the file only holds key material.

Every problem loading the keyring is a `VaultSealedError` naming the source and the fix.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from avisa.errors import VaultSealedError
from avisa.vault.crypto import KEY_BYTES, fingerprint, new_root_key

FORMAT = "avisa-keyring/1"


@dataclass(frozen=True)
class Keyring:
    """Root keys by version. Its repr never shows key material."""

    keys: dict[int, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring holds at least one key")

    @property
    def versions(self) -> list[int]:
        return sorted(self.keys)

    @property
    def newest(self) -> int:
        return max(self.keys)

    def fingerprints(self) -> dict[int, str]:
        return {version: fingerprint(key) for version, key in self.keys.items()}

    def with_key(self, version: int, key: bytes) -> Keyring:
        return Keyring({**self.keys, version: key})

    def without(self, versions: set[int]) -> Keyring:
        return Keyring({v: k for v, k in self.keys.items() if v not in versions})

    def __repr__(self) -> str:
        return f"Keyring(versions={self.versions})"


def _encode(keyring: Keyring) -> str:
    keys = {str(v): base64.b64encode(k).decode() for v, k in sorted(keyring.keys.items())}
    return json.dumps({"format": FORMAT, "keys": keys}, indent=2) + "\n"


def _decode(text: str, where: str) -> Keyring:
    """Parse a keyring file or a bare base64 key; raises VaultSealedError if malformed."""
    text = text.strip()
    problem = VaultSealedError(
        f"vault is sealed: {where} is not a valid avisa root key",
        fix="restore the key from your backup (a base64 32-byte key or an avisa keyring file)",
    )
    try:
        if text.startswith("{"):
            data = json.loads(text)
            if data.get("format") != FORMAT or not isinstance(data.get("keys"), dict):
                raise problem
            keys = {int(v): base64.b64decode(k, validate=True) for v, k in data["keys"].items()}
        else:
            keys = {1: base64.b64decode(text, validate=True)}
    except (ValueError, binascii.Error, AttributeError, TypeError):
        raise problem from None
    if not keys or any(len(k) != KEY_BYTES or v < 1 for v, k in keys.items()):
        raise problem
    return Keyring(keys)


@dataclass(frozen=True)
class FileStamp:
    """Identity of the key file's current content, to notice replacement or removal."""

    inode: int
    mtime_ns: int
    ctime_ns: int
    size: int
    mode: int


class KeyringSource:
    """Where the root keyring comes from, and how to read and (for files) write it."""

    def __init__(self, env_value: SecretStr | None, path: Path) -> None:
        self._env = env_value.get_secret_value() if env_value else None
        self.path = path

    def __repr__(self) -> str:
        return f"KeyringSource({self.describe()})"

    @property
    def from_environment(self) -> bool:
        return self._env is not None

    def describe(self) -> str:
        """Human name of the source, for messages."""
        return "AVISA_ROOT_KEY" if self._env is not None else f"key file {self.path}"

    def exists(self) -> bool:
        return self._env is not None or self.path.exists()

    def stamp(self) -> FileStamp | None:
        """The file's identity now; None for the environment or a missing file."""
        if self._env is not None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return FileStamp(st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_mode)

    def load(self) -> Keyring:
        """Read and validate the keyring; raises VaultSealedError saying what is wrong."""
        if self._env is not None:
            return _decode(self._env, "AVISA_ROOT_KEY")
        try:
            st = self.path.stat()
        except FileNotFoundError:
            raise VaultSealedError(
                f"vault is sealed: no root key (AVISA_ROOT_KEY is not set and {self.path} "
                "does not exist)",
                fix="restore the key file from your backup or set AVISA_ROOT_KEY",
            ) from None
        if st.st_mode & 0o077:
            raise VaultSealedError(
                f"vault is sealed: root key file {self.path} is accessible to other users "
                f"(mode {stat.S_IMODE(st.st_mode):04o})",
                fix=f"chmod 600 {self.path}",
            )
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise VaultSealedError(
                f"vault is sealed: cannot read root key file {self.path} ({type(exc).__name__})",
                fix="check the file's owner and permissions",
            ) from None
        return _decode(text, f"key file {self.path}")

    def create(self) -> Keyring:
        """Write a new keyring with one fresh key (version 1); refuses to overwrite."""
        keyring = Keyring({1: new_root_key()})
        self._write(keyring, exclusive=True)
        return keyring

    def save(self, keyring: Keyring) -> None:
        """Atomically replace the key file with `keyring` (mode 0600)."""
        self._write(keyring, exclusive=False)

    def _write(self, keyring: Keyring, *, exclusive: bool) -> None:
        if self._env is not None:
            raise VaultSealedError(
                "the root key comes from AVISA_ROOT_KEY, which avisa cannot change",
                fix="unset AVISA_ROOT_KEY and use a key file (AVISA_ROOT_KEY_FILE) to rotate",
            )
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if exclusive and self.path.exists():
            raise FileExistsError(self.path)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".root.key.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(_encode(keyring))
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                os.link(tmp, self.path)  # fails if another process created it meanwhile
                os.unlink(tmp)
            else:
                os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
