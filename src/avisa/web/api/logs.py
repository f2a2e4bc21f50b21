"""`/api/v1/logs`: the execution log, newest first, with filters and a cursor."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from avisa.errors import AvisaError
from avisa.functions.logs import list_executions
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep

router = APIRouter(prefix="/api/v1/logs", tags=["logs"])


class ExecutionLogPublic(BaseModel):
    id: int
    job_name: str
    function_name: str
    status: Literal["success", "failed"]
    message: str
    details: dict[str, Any]
    created_at: datetime


class ExecutionLogList(BaseModel):
    items: list[ExecutionLogPublic]
    next_cursor: str | None


@router.get("")
async def list_logs(
    services: ServicesDep,
    _claims: ServiceRoleDep,
    since: datetime | None = None,
    status: Literal["success", "failed"] | None = None,
    job: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> ExecutionLogList:
    """Execution logs, newest first. `next_cursor` fetches the next (older) page."""
    if since is not None and since.tzinfo is None:
        raise AvisaError("since: give an offset, e.g. 2026-01-01T00:00:00Z")
    before: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise AvisaError("cursor: not a cursor this API gave")
        before = int(cursor)
    rows = await asyncio.to_thread(
        list_executions,
        services.engine,
        since=since,
        failed_only=status == "failed",
        job_name=job,
        limit=limit + 1,
        before_id=before,
    )
    if status == "success":
        rows = [r for r in rows if r.status == "success"]
    page, more = rows[:limit], len(rows) > limit
    return ExecutionLogList(
        items=[ExecutionLogPublic(**r.to_dict()) for r in page],
        next_cursor=str(page[-1].id) if more and page else None,
    )
