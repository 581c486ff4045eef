"""Failures as HTTP answers: a BackupToolError gets its class's HTTP status, a request that does not parse gets
400, anything else 500. The body keeps upstream's `requestId`/`code`/`msg` and adds `error` and `hint`; a
failure is never HTTP 200."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from milvus_backup.errors import DETAIL_CHARS, BackupToolError, bounded

logger = logging.getLogger(__name__)


def request_id(request: Request) -> str:
    """Upstream reads the optional `request_id` header."""
    return request.headers.get("request_id", "")


def error_response(request: Request, status: int, error: str, msg: str, hint: str | None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"requestId": request_id(request), "code": status, "msg": msg, "error": error, "hint": hint},
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", err.get("msg"))
            return f"the request body is not valid JSON (it is read as JSON whatever its Content-Type): {reason}"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BackupToolError)
    async def _tool_error(request: Request, exc: BackupToolError) -> JSONResponse:
        return error_response(request, exc.http_status, type(exc).__name__, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            request, 400, "UsageError", _validation_message(exc), "See /docs for the fields each endpoint takes."
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(
            request,
            500,
            type(exc).__name__,
            f"unexpected {type(exc).__name__}: {bounded(str(exc), DETAIL_CHARS)}",
            "This is a bug in milvus-backup; the server log has the traceback.",
        )
