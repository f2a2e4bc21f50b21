"""The vault service on SQLite and PostgreSQL: CRUD, versions, check-and-set, delete, audit."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from avisa.db.tables.vault import vault_audit, vault_secret_versions, vault_secrets
from avisa.errors import AvisaError, ConflictError, NotFoundError
from avisa.vault.model import InvalidSecretError
from avisa.vault.service import SecretCorruptError, Vault


def test_create_get_describe_list(vault: Vault) -> None:
    secret_id = vault.create_secret("p4ss", "SMTP_PASSWORD", "mail relay")
    assert vault.get_secret("SMTP_PASSWORD") == "p4ss"
    assert vault.get_secret(str(secret_id)) == "p4ss"
    meta = vault.describe_secret("SMTP_PASSWORD")
    assert (meta.id, meta.version, meta.description) == (secret_id, 1, "mail relay")
    names = [m.name for m in vault.list_secrets()]
    assert names == sorted(names)
    assert {"SMTP_PASSWORD", "JWT_SECRET", "ANON_KEY", "SERVICE_ROLE_KEY"} <= set(names)


def test_values_keep_unicode_and_whitespace(vault: Vault) -> None:
    value = "  ñandú 🔑\nline two\t"
    vault.create_secret(value, "odd")
    assert vault.get_secret("odd") == value


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "invalid secret name"),
        ("has space", "invalid secret name"),
        ("semi;colon", "invalid secret name"),
        ("x" * 129, "invalid secret name"),
        ("ñ", "invalid secret name"),
    ],
)
def test_bad_names_are_refused(vault: Vault, name: str, problem: str) -> None:
    with pytest.raises(InvalidSecretError, match=problem):
        vault.create_secret("v", name)


def test_value_limits(vault: Vault) -> None:
    vault.create_secret("x" * 65536, "big")
    assert len(vault.get_secret("big")) == 65536
    with pytest.raises(InvalidSecretError, match="65537 bytes; the limit is 65536"):
        vault.create_secret("x" * 65537, "too-big")
    with pytest.raises(InvalidSecretError, match="cannot be empty"):
        vault.create_secret("", "empty")


def test_duplicate_name_conflicts(vault: Vault) -> None:
    vault.create_secret("a", "dup")
    with pytest.raises(ConflictError, match="already exists"):
        vault.create_secret("b", "dup")
    assert vault.get_secret("dup") == "a"


def test_unknown_secret_is_not_found(vault: Vault) -> None:
    with pytest.raises(NotFoundError, match="no secret named 'nope'"):
        vault.get_secret("nope")


def test_update_makes_versions_and_keeps_the_last_ten(vault: Vault) -> None:
    vault.create_secret("v1", "rolling")
    for n in range(2, 13):
        meta = vault.update_secret("rolling", value=f"v{n}")
        assert meta.version == n
    assert vault.get_secret("rolling") == "v12"
    assert vault.get_secret("rolling", version=3) == "v3"
    with pytest.raises(NotFoundError, match="has no version 2"):
        vault.get_secret("rolling", version=2)
    with vault.engine.connect() as conn:
        kept = conn.execute(
            sa.select(sa.func.count()).select_from(vault_secret_versions)
        ).scalar_one()
    assert kept == 9  # plus the current one: ten versions


def test_rename_and_describe_without_new_version(vault: Vault) -> None:
    vault.create_secret("v", "old-name")
    meta = vault.update_secret("old-name", new_name="new-name", description="d")
    assert (meta.name, meta.version, meta.description) == ("new-name", 1, "d")
    assert vault.get_secret("new-name") == "v"
    with pytest.raises(NotFoundError):
        vault.get_secret("old-name")


def test_rename_onto_an_existing_name_conflicts(vault: Vault) -> None:
    vault.create_secret("a", "one")
    vault.create_secret("b", "two")
    with pytest.raises(ConflictError, match="already exists"):
        vault.update_secret("one", new_name="two")
    assert vault.get_secret("one") == "a"


def test_update_with_nothing_is_refused(vault: Vault) -> None:
    vault.create_secret("a", "one")
    with pytest.raises(AvisaError, match="nothing to update"):
        vault.update_secret("one")


def test_check_and_set(vault: Vault) -> None:
    vault.create_secret("v1", "cas")
    vault.update_secret("cas", value="v2", expected_version=1)
    with pytest.raises(ConflictError, match="is at version 2, not 1"):
        vault.update_secret("cas", value="v3", expected_version=1)
    assert vault.get_secret("cas") == "v2"


def test_check_and_set_race_exactly_one_wins(vault: Vault) -> None:
    """Of concurrent updates expecting the same version, exactly one succeeds, every round."""
    vault.create_secret("v0", "race")
    for round_ in range(1, 6):
        outcomes = _race(vault, expected=round_, contenders=4)
        assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
        assert vault.describe_secret("race").version == round_ + 1


def _race(vault: Vault, expected: int, contenders: int) -> list[str]:
    outcomes: list[str] = []
    barrier = threading.Barrier(contenders)

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            vault.update_secret("race", value=f"r{expected}-{n}", expected_version=expected)
            outcomes.append("won")
        except ConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_soft_delete_restore_and_destroy(vault: Vault) -> None:
    vault.create_secret("v", "gone")
    vault.delete_secret("gone")
    with pytest.raises(NotFoundError, match="is deleted"):
        vault.get_secret("gone")
    assert "gone" not in [m.name for m in vault.list_secrets()]
    assert "gone" in [m.name for m in vault.list_secrets(include_deleted=True)]
    with pytest.raises(ConflictError, match="exists but is deleted"):
        vault.create_secret("v2", "gone")
    with pytest.raises(ConflictError, match="is deleted"):
        vault.update_secret("gone", value="x")
    vault.restore_secret("gone")
    assert vault.get_secret("gone") == "v"
    vault.update_secret("gone", value="v2")
    vault.destroy_secret("gone")
    with pytest.raises(NotFoundError):
        vault.describe_secret("gone")
    with vault.engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(vault_secret_versions)).scalar()
            == 0
        )


def test_audit_records_actor_action_and_outcome(vault: Vault) -> None:
    vault.create_secret("v", "audited")
    vault.with_actor("scheduler").get_secret("audited")
    with pytest.raises(NotFoundError):
        vault.with_actor("api").get_secret("missing")
    with vault.engine.connect() as conn:
        rows = conn.execute(
            sa.select(vault_audit)
            .where(vault_audit.c.secret_name.in_(["audited", "missing"]))
            .order_by(vault_audit.c.id)
        ).all()
    assert [(r.actor, r.action, r.secret_name, r.success) for r in rows] == [
        ("cli", "create", "audited", True),
        ("scheduler", "read", "audited", True),
        ("api", "read", "missing", False),
    ]
    assert rows[2].detail == "NotFoundError"


def _flip_byte(vault: Vault, name: str, column: str, index: int) -> None:
    with vault.engine.begin() as conn:
        blob = conn.execute(
            sa.select(vault_secrets.c[column]).where(vault_secrets.c.name == name)
        ).scalar_one()
        index = index if index >= 0 else len(blob) + index
        changed = blob[:index] + bytes([blob[index] ^ 0x80]) + blob[index + 1 :]
        conn.execute(
            sa.update(vault_secrets).where(vault_secrets.c.name == name).values({column: changed})
        )


@pytest.mark.parametrize(
    ("column", "index"),
    [
        ("ciphertext", 0),
        ("ciphertext", 20),
        ("ciphertext", -1),
        ("wrapped_key", 5),
        ("wrapped_key", -1),
    ],
    ids=["nonce", "body", "tag", "wrapped-key", "wrapped-tag"],
)
def test_tampered_row_fails_cleanly(vault: Vault, column: str, index: int) -> None:
    vault.create_secret("tamper-canary-value", "tampered")
    _flip_byte(vault, "tampered", column, index)
    with pytest.raises(SecretCorruptError) as info:
        vault.get_secret("tampered")
    assert str(info.value).startswith("secret 'tampered' version 1 does not decrypt")
    assert "tamper-canary-value" not in str(info.value)


def test_ciphertext_moved_to_another_row_fails(vault: Vault) -> None:
    vault.create_secret("first-value", "first")
    vault.create_secret("second-value", "second")
    with vault.engine.begin() as conn:
        src = conn.execute(sa.select(vault_secrets).where(vault_secrets.c.name == "first")).one()
        conn.execute(
            sa.update(vault_secrets)
            .where(vault_secrets.c.name == "second")
            .values(ciphertext=src.ciphertext, wrapped_key=src.wrapped_key)
        )
    with pytest.raises(SecretCorruptError):
        vault.get_secret("second")
    assert vault.get_secret("first") == "first-value"
