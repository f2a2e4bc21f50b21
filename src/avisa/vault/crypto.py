"""Envelope encryption with AES-256-GCM. Pure: no database, no files.

Each secret version gets a fresh random 256-bit data key. The value is encrypted with the
data key; the data key is encrypted ("wrapped") with a root key. Both encryptions use a
fresh random 96-bit nonce and bind associated data naming the secret id and version, so a
ciphertext or wrapped key copied to another row or version fails to decrypt.

Stored forms are `nonce || ciphertext || tag` for both the value and the wrapped key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext, nonce, tag or wrapped key does not verify (tampered, moved or wrong key).

    Carries no data: its message never quotes the bytes involved.
    """


@dataclass(frozen=True)
class Envelope:
    """One encrypted secret version as stored: never holds plaintext."""

    ciphertext: bytes
    wrapped_key: bytes
    key_version: int

    def __repr__(self) -> str:
        return f"Envelope(key_version={self.key_version}, {len(self.ciphertext)} bytes)"


def associated_data(secret_id: UUID, version: int) -> bytes:
    """The binding of a ciphertext to its row and version."""
    return f"avisa-vault:{secret_id}:{version}".encode()


def _wrap_ad(aad: bytes, key_version: int) -> bytes:
    return aad + f":root-key-v{key_version}".encode()


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError from None


def seal(
    value: bytes, root_key: bytes, key_version: int, secret_id: UUID, version: int
) -> Envelope:
    """Encrypt `value` under a fresh data key wrapped by `root_key`."""
    aad = associated_data(secret_id, version)
    data_key = AESGCM.generate_key(bit_length=256)
    return Envelope(
        ciphertext=_encrypt(data_key, value, aad),
        wrapped_key=_encrypt(root_key, data_key, _wrap_ad(aad, key_version)),
        key_version=key_version,
    )


def unseal(envelope: Envelope, root_key: bytes, secret_id: UUID, version: int) -> bytes:
    """Decrypt an envelope; raises DecryptionError if any byte of it was altered or moved."""
    aad = associated_data(secret_id, version)
    data_key = _decrypt(root_key, envelope.wrapped_key, _wrap_ad(aad, envelope.key_version))
    return _decrypt(data_key, envelope.ciphertext, aad)


def rewrap(
    envelope: Envelope,
    old_root: bytes,
    new_root: bytes,
    new_version: int,
    secret_id: UUID,
    version: int,
) -> Envelope:
    """Re-encrypt only the data key under a new root key; the value's ciphertext is unchanged.

    The value is never decrypted. Raises DecryptionError if the wrapped key does not verify.
    """
    aad = associated_data(secret_id, version)
    data_key = _decrypt(old_root, envelope.wrapped_key, _wrap_ad(aad, envelope.key_version))
    return Envelope(
        ciphertext=envelope.ciphertext,
        wrapped_key=_encrypt(new_root, data_key, _wrap_ad(aad, new_version)),
        key_version=new_version,
    )


def fingerprint(root_key: bytes) -> str:
    """A short, non-secret identifier of a root key, stored to detect a wrong key."""
    return hmac.new(root_key, b"avisa-root-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def new_root_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)
