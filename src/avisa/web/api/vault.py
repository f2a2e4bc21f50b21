"""`/api/v1/vault/secrets`: secret metadata; values are write-only over HTTP."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from avisa.vault.model import MAX_VALUE_BYTES, SecretMetadata
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep

router = APIRouter(prefix="/api/v1/vault/secrets", tags=["vault"])

NameField = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")]


class SecretCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NameField
    value: str = Field(min_length=1, max_length=MAX_VALUE_BYTES, repr=False)
    description: str = Field(default="", max_length=1000)


class SecretUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(default=None, min_length=1, max_length=MAX_VALUE_BYTES, repr=False)
    new_name: NameField | None = None
    description: str | None = Field(default=None, max_length=1000)
    expected_version: int | None = Field(default=None, ge=1)


class SecretPublic(BaseModel):
    id: UUID
    name: str
    description: str
    version: int
    key_version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, meta: SecretMetadata) -> SecretPublic:
        return cls(**meta.__dict__)


class SecretList(BaseModel):
    items: list[SecretPublic]
    next_cursor: str | None = None


@router.get("")
async def list_secrets(
    services: ServicesDep, _claims: ServiceRoleDep, include_deleted: bool = False
) -> SecretList:
    """Metadata of every secret, by name. Never values."""
    metas = await asyncio.to_thread(services.vault.with_actor("api").list_secrets, include_deleted)
    return SecretList(items=[SecretPublic.of(m) for m in metas])


@router.post("", status_code=201)
async def create_secret(
    body: SecretCreate, services: ServicesDep, _claims: ServiceRoleDep
) -> SecretPublic:
    """Store a new secret. 409 if the name is taken."""
    vault = services.vault.with_actor("api")
    secret_id = await asyncio.to_thread(
        vault.create_secret, body.value, body.name, body.description
    )
    return SecretPublic.of(await asyncio.to_thread(vault.describe_secret, str(secret_id)))


@router.get("/{name_or_id}")
async def get_secret_metadata(
    name_or_id: str, services: ServicesDep, _claims: ServiceRoleDep
) -> SecretPublic:
    """Metadata of one secret (its value is never returned over HTTP)."""
    meta = await asyncio.to_thread(services.vault.with_actor("api").describe_secret, name_or_id)
    return SecretPublic.of(meta)


@router.patch("/{name_or_id}")
async def update_secret(
    name_or_id: str, body: SecretUpdate, services: ServicesDep, _claims: ServiceRoleDep
) -> SecretPublic:
    """New value (a new version), name or description; `expected_version` for check-and-set."""
    meta = await asyncio.to_thread(
        services.vault.with_actor("api").update_secret,
        name_or_id,
        body.value,
        body.new_name,
        body.description,
        body.expected_version,
    )
    return SecretPublic.of(meta)


@router.delete("/{name_or_id}", status_code=204)
async def delete_secret(
    name_or_id: str,
    services: ServicesDep,
    _claims: ServiceRoleDep,
    destroy: Annotated[bool, Query(description="irreversible: remove every version")] = False,
) -> Response:
    """Soft-delete (restorable), or destroy with `?destroy=true`."""
    vault = services.vault.with_actor("api")
    if destroy:
        await asyncio.to_thread(vault.destroy_secret, name_or_id)
    else:
        await asyncio.to_thread(vault.delete_secret, name_or_id)
    return Response(status_code=204)


@router.post("/{name_or_id}/restore")
async def restore_secret(
    name_or_id: str, services: ServicesDep, _claims: ServiceRoleDep
) -> SecretPublic:
    """Undo a soft delete."""
    meta = await asyncio.to_thread(services.vault.with_actor("api").restore_secret, name_or_id)
    return SecretPublic.of(meta)
