"""Errors at the edge: every failure is a Problem document with the right 4xx status."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from yaodao.kernel.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    ValidationFailed,
)
from yaodao.search.availability import OutsideServiceArea
from yaodao.web.schemas import Problem

log = structlog.get_logger(__name__)

STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 422,
    OutsideServiceArea: 422,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    NotAuthenticated: 401,
    TooManyRequests: 429,
}
TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Server error",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": TITLES[status]} for status in (400, 401, 403, 404, 409, 413, 422, 429)
}


def problem(
    status: int,
    detail: str,
    code: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = Problem(title=TITLES.get(status, "Error"), status=status, detail=detail, code=code, errors=errors or [])
    content = {**(extra or {}), **body.model_dump()}  # extension members (RFC 9457 section 3.2) never shadow these
    return JSONResponse(content, status_code=status, headers=headers, media_type="application/problem+json")


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        errors = [{"field": f, "message": m} for f, m in getattr(exc, "errors", [])] or (
            [{"field": exc.field, "message": exc.message}] if exc.field else []
        )
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem(status, exc.message, exc.code, errors, headers, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(
                400,
                "the request body is not valid JSON",
                "malformed_json",
                [{"field": "body", "message": str(errors[0].get("msg", ""))}],
            )
        fields = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in errors]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return problem(422, detail, "invalid_input", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        return problem(exc.status_code, str(exc.detail), f"http_{exc.status_code}", headers=headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "something went wrong on our side; it has been logged", "server_error")
