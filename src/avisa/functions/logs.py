"""Writing and reading `cron_execution_logs`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avisa.db.tables.functions import cron_execution_logs

LogStatus = Literal["success", "failed"]
MAX_MESSAGE = 1000


@dataclass(frozen=True)
class ExecutionLog:
    id: int
    job_name: str
    function_name: str
    status: str
    message: str
    details: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_name": self.job_name,
            "function_name": self.function_name,
            "status": self.status,
            "message": self.message,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }


def record_execution(
    engine: Engine,
    *,
    job_name: str,
    function_name: str,
    status: LogStatus,
    message: str,
    details: dict[str, Any],
    at: datetime,
) -> int:
    """Insert one log row in its own transaction; returns its id."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.insert(cron_execution_logs)
            .values(
                job_name=job_name[:200],
                function_name=function_name[:100],
                status=status,
                message=message[:MAX_MESSAGE],
                details=details,
                created_at=at,
            )
            .returning(cron_execution_logs.c.id)
        )
        return int(result.scalar_one())


def list_executions(
    engine: Engine,
    *,
    since: datetime | None = None,
    failed_only: bool = False,
    job_name: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[ExecutionLog]:
    """Newest first, filtered; `before_id` pages backwards (the API's cursor)."""
    table = cron_execution_logs
    query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    if failed_only:
        query = query.where(table.c.status == "failed")
    if job_name is not None:
        query = query.where(table.c.job_name == job_name)
    if before_id is not None:
        query = query.where(table.c.id < before_id)
    with engine.connect() as conn:
        return [
            ExecutionLog(
                id=row.id,
                job_name=row.job_name,
                function_name=row.function_name,
                status=row.status,
                message=row.message,
                details=row.details,
                created_at=row.created_at,
            )
            for row in conn.execute(query)
        ]
