"""`POST /functions/v1/{name}`: the HTTP functions the scheduler calls with the service key.

Every invocation that passes authentication writes one `cron_execution_logs` row. A
function that raises is logged as `failed` with its error class and answers 500 with a
generic body; its exception text (which could quote data) is never sent.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from avisa.errors import AvisaError
from avisa.functions.logs import record_execution
from avisa.functions.registry import HttpFunctions
from avisa.web.auth import ServiceRoleDep
from avisa.web.deps import ServicesDep
from avisa.web.errors import error_body

log = structlog.get_logger(__name__)

router = APIRouter(tags=["functions"])

#: Function bodies are small JSON objects; anything bigger is a mistake or an attack.
MAX_FUNCTION_BODY = 64 * 1024
JOB_HEADER = "x-avisa-job"
#: The scheduler's run id: kept in the log's details, so a log joins to its run.
RUN_HEADER = "x-avisa-run"
_JOB_NAME = re.compile(r"^[A-Za-z0-9_.:@ -]{1,200}$")


class InvalidBodyError(AvisaError):
    http_status = 400


def _parse_body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_FUNCTION_BODY:
        raise InvalidBodyError(f"request body larger than {MAX_FUNCTION_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidBodyError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidBodyError("request body must be a JSON object")
    return data


@router.post(
    "/functions/v1/{name}",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "arguments of the function (the shipped ones take none)",
                    }
                }
            },
        }
    },
    responses={
        400: {"description": "the body is not a JSON object"},
        401: {"description": "missing or invalid service key"},
        403: {"description": "a valid key of another role"},
        404: {"description": "unknown function"},
        413: {"description": "body too large"},
        429: {"description": "too many failed attempts"},
        500: {"description": "the function failed"},
    },
)
async def invoke_function(
    name: str, request: Request, services: ServicesDep, _claims: ServiceRoleDep
) -> JSONResponse:
    """Run function `name` with the JSON object in the body; answer with what it did."""
    functions: HttpFunctions = request.app.state.http_functions
    function = functions.get(name)
    raw = await request.body()
    if len(raw) > MAX_FUNCTION_BODY:
        return JSONResponse(
            error_body(f"request body larger than {MAX_FUNCTION_BODY} bytes"), status_code=413
        )
    body = _parse_body(raw)
    header_job = request.headers.get(JOB_HEADER, "")
    job_name = header_job if _JOB_NAME.match(header_job) else function.name
    header_run = request.headers.get(RUN_HEADER, "")
    run_id = {"run_id": int(header_run)} if header_run.isdigit() and len(header_run) < 19 else {}
    clock = services.clock
    started, at = clock.monotonic(), clock.now()
    try:
        result = await asyncio.to_thread(function.call, services, body, at)
    except Exception as exc:
        duration_ms = round((clock.monotonic() - started) * 1000, 1)
        error_class = type(exc).__name__
        log.error("function_failed", function=function.name, error_class=error_class)
        await asyncio.to_thread(
            record_execution,
            services.engine,
            job_name=job_name,
            function_name=function.name,
            status="failed",
            message=f"{function.name} failed ({error_class})",
            details={"error_class": error_class, "duration_ms": duration_ms, **run_id},
            at=clock.now(),
        )
        return JSONResponse(error_body(f"function {function.name} failed"), status_code=500)
    duration_ms = round((clock.monotonic() - started) * 1000, 1)
    details = {**result.details, "duration_ms": duration_ms, **run_id}
    log_id = await asyncio.to_thread(
        record_execution,
        services.engine,
        job_name=job_name,
        function_name=function.name,
        status="success",
        message=result.message,
        details=details,
        at=clock.now(),
    )
    return JSONResponse(
        {
            "function": function.name,
            "status": "success",
            "message": result.message,
            "details": details,
            "log_id": log_id,
        }
    )
