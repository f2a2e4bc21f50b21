"""Vault value objects and input rules, shared by the service, the CLI and the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from avisa.errors import AvisaError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_VALUE_BYTES = 64 * 1024
#: How many versions of a secret are kept, the current one included.
KEEP_VERSIONS = 10

Actor = Literal["cli", "api", "scheduler", "system", "dashboard"]


class InvalidSecretError(AvisaError):
    """A secret name or value breaks the rules (HTTP 422)."""

    http_status = 422


@dataclass(frozen=True)
class SecretMetadata:
    """Everything about a secret except its value."""

    id: UUID
    name: str
    description: str
    version: int
    key_version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "key_version": self.key_version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "deleted_at": self.deleted_at.isoformat() if self.deleted_at else None,
        }


def check_name(name: str) -> str:
    """Return `name` if valid; raise InvalidSecretError saying what is wrong."""
    if not NAME_PATTERN.match(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise InvalidSecretError(
            f"invalid secret name {shown!r}: use 1-128 characters from A-Z a-z 0-9 _ . -"
        )
    return name


def check_value(value: str) -> bytes:
    """Encode a value; raise InvalidSecretError if empty or over 64 KiB (never quoting it)."""
    data = value.encode("utf-8")
    if not data:
        raise InvalidSecretError("a secret value cannot be empty")
    if len(data) > MAX_VALUE_BYTES:
        raise InvalidSecretError(
            f"secret value is {len(data)} bytes; the limit is {MAX_VALUE_BYTES} (64 KiB)"
        )
    return data


def parse_ref(name_or_id: str) -> UUID | str:
    """A secret reference is its UUID or its name."""
    try:
        return UUID(name_or_id)
    except ValueError:
        return name_or_id
