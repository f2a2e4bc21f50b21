"""`/api/v1/clients`: create, list, get and edit clients (service key required)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from avisa.domain.clients import (
    client_public,
    create_client,
    get_client,
    list_clients,
    update_client,
)
from avisa.domain.schemas import MAX_ID, ClientCreate, ClientPublic, ClientUpdate, Page
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


@router.post("", status_code=status.HTTP_201_CREATED)
def create(body: ClientCreate, services: ServicesDep, _auth: ServiceRoleDep) -> ClientPublic:
    """Create a client. Phone numbers are stored in E.164; 422 names an invalid field."""
    with services.engine.begin() as conn:
        record = create_client(conn, body, services.settings, services.clock.now())
    return client_public(record)


@router.get("")
def list_(
    services: ServicesDep, _auth: ServiceRoleDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ClientPublic]:
    """Clients in creation order, a page at a time."""
    with services.engine.connect() as conn:
        records, next_cursor = list_clients(conn, limit=limit, cursor=cursor)
    return Page[ClientPublic](items=[client_public(r) for r in records], next_cursor=next_cursor)


@router.get("/{client_id}")
def get(client_id: PathId, services: ServicesDep, _auth: ServiceRoleDep) -> ClientPublic:
    """One client; 404 if it does not exist."""
    with services.engine.connect() as conn:
        return client_public(get_client(conn, client_id))


@router.patch("/{client_id}")
def patch(
    client_id: PathId, body: ClientUpdate, services: ServicesDep, _auth: ServiceRoleDep
) -> ClientPublic:
    """Change the fields given (null clears an address); reminders already planned keep
    their recipient, those planned later use the new one."""
    with services.engine.begin() as conn:
        record = update_client(conn, client_id, body, services.settings, services.clock.now())
    return client_public(record)
