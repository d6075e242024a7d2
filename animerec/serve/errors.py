"""The API's error answers: one JSON :class:`~animerec.serve.schemas.ErrorBody` shape for every
failure, never a stack trace.

404 for unknown anime (with close matches), users and ratings; 422 naming the field for bad
input; 400 for a request the workspace cannot serve; 500 with a fixed message (the detail goes to
the log only).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match as RouteMatch

from animerec.errors import AnimerecError
from animerec.serve.headers import security_headers
from animerec.serve.schemas import ErrorBody, FieldError, Match

log = logging.getLogger("animerec.serve")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "a request the workspace cannot serve"},
    404: {"model": ErrorBody, "description": "unknown anime, user or rating (with close matches)"},
    413: {"model": ErrorBody, "description": "the request body is over the size limit"},
    415: {"model": ErrorBody, "description": "a body that is not application/json"},
    422: {"model": ErrorBody, "description": "invalid input; `fields` names each bad field"},
}
"""The error answers every operation documents in the OpenAPI schema."""


class ApiError(Exception):
    """An error the API answers with a JSON :class:`ErrorBody`."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        fields: Sequence[FieldError] = (),
        matches: Sequence[Match] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.fields, self.matches = list(fields), list(matches)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return ErrorBody(
            error=self.error, message=self.message, fields=self.fields, matches=self.matches
        ).model_dump(mode="json")

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


def not_found(message: str, matches: Sequence[Match] = ()) -> ApiError:
    return ApiError(404, "not_found", message, matches=matches)


def invalid(field: str, message: str) -> ApiError:
    return ApiError(
        422,
        "validation_error",
        f"{field}: {message}",
        fields=[FieldError(field=field, message=message)],
    )


_TYPE_TAG = re.compile(r"^(int|str|float|bool|constrained-[a-z]+|[a-z-]+\[.*\])$")


def _field_name(loc: Sequence[str | int]) -> str:
    """``("body", "liked", 2, "int")`` -> ``liked[2]``: the field a person would look for."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for p in parts:
        if isinstance(p, int):
            name += f"[{p}]"
        elif _TYPE_TAG.match(p) and name:
            continue  # which member of a union failed: noise to the reader
        else:
            name += f".{p}" if name else p
    return name or (str(loc[0]) if loc else "body")


def validation_error(exc: RequestValidationError) -> ApiError:
    """One entry per field (a union's failed members are merged into one message)."""
    by_field: dict[str, FieldError] = {}
    for e in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in e.get("loc", ())]
        name = _field_name(loc)
        msg = str(e.get("msg", "invalid"))
        prev = by_field.get(name)
        if prev is None:
            by_field[name] = FieldError(field=name, message=msg, loc=loc)
        elif msg not in prev.message:
            prev.message = f"{prev.message}, or {msg[0].lower()}{msg[1:]}"
    fields = list(by_field.values())
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5]) or "invalid request"
    return ApiError(422, "validation_error", summary, fields=fields)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only one route's)."""
    routes = request.app.router.routes
    methods = {
        m
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": m})[0] is RouteMatch.FULL for r in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Every exception a request can raise becomes an :class:`ErrorBody` answer."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)  # nosec B101  # registered for ApiError only
        return exc.response()

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # nosec B101  # registered for it only
        return validation_error(exc).response()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # nosec B101  # registered for it only
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (say, not UTF-8)
            return invalid("body", f"{exc.detail}: send JSON in UTF-8").response()
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        body = ErrorBody(error=code, message=str(exc.detail)).model_dump(mode="json")
        return JSONResponse(body, status_code=exc.status_code, headers=headers or None)

    async def expected(_: Request, exc: Exception) -> JSONResponse:
        body = ErrorBody(error="bad_request", message=str(exc)).model_dump(mode="json")
        return JSONResponse(body, status_code=400)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        body = ErrorBody(error="internal_error", message="internal server error")
        # Sent from outside every middleware (Starlette's ServerErrorMiddleware), so the
        # security headers are added here.
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=500,
            headers=security_headers(request.url.path),
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(AnimerecError, expected)
    app.add_exception_handler(Exception, internal)


__all__ = [
    "ERRORS",
    "ApiError",
    "allowed_methods",
    "install_error_handlers",
    "invalid",
    "not_found",
    "validation_error",
]
