"""Envelope encryption: binding to row and version, tamper detection, fresh randomness."""

from __future__ import annotations

import uuid

import pytest

from avisa.vault import crypto
from avisa.vault.crypto import NONCE_BYTES, DecryptionError, Envelope, rewrap, seal, unseal

ROOT = b"\x01" * 32
SID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def test_round_trip() -> None:
    env = seal(b"hunter2", ROOT, 1, SID, 1)
    assert unseal(env, ROOT, SID, 1) == b"hunter2"


def test_two_encryptions_of_one_value_differ() -> None:
    """A fresh data key and fresh nonces every time: equal values never look equal."""
    a, b = seal(b"same", ROOT, 1, SID, 1), seal(b"same", ROOT, 1, SID, 1)
    assert a.ciphertext != b.ciphertext
    assert a.wrapped_key != b.wrapped_key
    assert a.ciphertext[:NONCE_BYTES] != b.ciphertext[:NONCE_BYTES]


@pytest.mark.parametrize(
    ("secret_id", "version"),
    [(uuid.UUID("00000000-0000-4000-8000-000000000002"), 1), (SID, 2)],
    ids=["moved-to-another-secret", "moved-to-another-version"],
)
def test_moved_ciphertext_fails(secret_id: uuid.UUID, version: int) -> None:
    env = seal(b"value", ROOT, 1, SID, 1)
    with pytest.raises(DecryptionError):
        unseal(env, ROOT, secret_id, version)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.mark.parametrize(
    ("field", "index"),
    [
        ("ciphertext", 0),  # nonce
        ("ciphertext", NONCE_BYTES),  # body
        ("ciphertext", -1),  # tag
        ("wrapped_key", 0),
        ("wrapped_key", NONCE_BYTES + 3),
        ("wrapped_key", -1),
    ],
)
def test_any_flipped_byte_is_detected(field: str, index: int) -> None:
    env = seal(b"value", ROOT, 1, SID, 1)
    blob = getattr(env, field)
    tampered = Envelope(
        **{**env.__dict__, field: _flip(blob, index if index >= 0 else len(blob) + index)}
    )
    with pytest.raises(DecryptionError) as info:
        unseal(tampered, ROOT, SID, 1)
    assert str(info.value) == ""


def test_wrong_key_version_label_fails() -> None:
    """The key version is bound too: relabelling a wrapped key breaks it."""
    env = seal(b"value", ROOT, 1, SID, 1)
    with pytest.raises(DecryptionError):
        unseal(Envelope(env.ciphertext, env.wrapped_key, 2), ROOT, SID, 1)


def test_truncated_blob_fails_cleanly() -> None:
    with pytest.raises(DecryptionError):
        unseal(Envelope(b"short", b"short", 1), ROOT, SID, 1)


def test_rewrap_keeps_the_value_ciphertext_and_changes_the_key() -> None:
    new_root = b"\x02" * 32
    env = seal(b"value", ROOT, 1, SID, 3)
    moved = rewrap(env, ROOT, new_root, 2, SID, 3)
    assert moved.ciphertext == env.ciphertext
    assert moved.key_version == 2
    assert unseal(moved, new_root, SID, 3) == b"value"
    with pytest.raises(DecryptionError):
        unseal(moved, ROOT, SID, 3)


def test_envelope_repr_shows_no_bytes() -> None:
    env = seal(b"value", ROOT, 1, SID, 1)
    assert env.ciphertext.hex() not in repr(env)
    assert "key_version=1" in repr(env)


def test_fingerprint_identifies_a_key_without_revealing_it() -> None:
    assert crypto.fingerprint(ROOT) == crypto.fingerprint(ROOT)
    assert crypto.fingerprint(ROOT) != crypto.fingerprint(b"\x02" * 32)
    assert ROOT.hex()[:16] not in crypto.fingerprint(ROOT)
