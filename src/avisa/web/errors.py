"""Error answers: always JSON with a message; never a stack trace, SQL or a secret."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from avisa.errors import AvisaError

log = structlog.get_logger(__name__)


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    """The one error shape of the API: `{"error": {"message": ..., ...}}`."""
    return {"error": {"message": message, **extra}}


def install_error_handlers(app: FastAPI) -> None:
    """Route every error to a JSON answer of the shape `error_body` makes."""

    @app.exception_handler(AvisaError)
    async def _avisa_error(_request: Request, exc: AvisaError) -> JSONResponse:
        return JSONResponse(error_body(str(exc)), status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return JSONResponse(
            error_body(message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append({"field": where, "problem": str(err.get("msg", "invalid"))})
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        message = f"invalid {first['field']}: {first['problem']}"
        return JSONResponse(error_body(message, problems=problems), status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The class name only: an exception's text may quote SQL or a value.
        log.error("unhandled_error", path=request.url.path, error_class=type(exc).__name__)
        return JSONResponse(error_body("internal error"), status_code=500)
