"""Every error the server returns has OpenAI's shape: {"error": {"message", "type", "param", "code"}}.

Bad input is always a 4xx with a message that names the field and what to send instead; a 500 means a
bug (or a model that produced NaN), never a malformed request.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ..errors import InvalidArgumentError

log = logging.getLogger("mlx_embed.server")

TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
         405: "invalid_request_error", 408: "invalid_request_error", 413: "invalid_request_error", 429: "rate_limit_error",
         503: "server_error"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.headers = status, message, code, param, headers


def error_body(status: int, message: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    kind = TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, code: str | None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code, param), status_code=status, headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts).replace(".[", "[") or "body"


def _validation_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "", "loc": ("body",), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return error_response(400, f"The request body is not valid JSON ({detail}). Send a JSON object with "
                                   "Content-Type: application/json.", "invalid_json")
    if tuple(first.get("loc", ())) == ("body",):
        content_type = request.headers.get("content-type", "")
        if first.get("type") == "missing":
            return error_response(400, "The request has no body: send a JSON object.", "invalid_json")
        if content_type and "json" not in content_type:
            return error_response(400, f"Content-Type {content_type!r} is not JSON: send the body as a JSON "
                                       "object with Content-Type: application/json.", "invalid_content_type")
        return error_response(400, "The request body must be a JSON object.", "invalid_request")
    loc = tuple(first.get("loc", ()))
    top = str(loc[1]) if len(loc) > 1 else "body"
    if top in ("input", "inputs") and first.get("type") != "missing":
        return error_response(400, f"'{top}' must be a non-empty string, a list of strings, a list of token ids "
                                   "or a list of lists of token ids.", "invalid_type", top)
    messages = []
    for err in errors[:3]:
        where = _field(tuple(err.get("loc", ())))
        got = err.get("input")
        shown = "" if err.get("type") == "missing" else f" (got {type(got).__name__} {str(got)[:40]!r})"
        messages.append(f"'{where}': {err.get('msg', 'invalid')}{shown}")
    more = f" and {len(errors) - 3} more errors" if len(errors) > 3 else ""
    code = "missing_field" if first.get("type") == "missing" else "invalid_type"
    return error_response(400, "; ".join(messages) + more + ".", code, top)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.param, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(request, exc)

    @app.exception_handler(InvalidArgumentError)
    async def invalid_argument(request: Request, exc: InvalidArgumentError) -> JSONResponse:
        return error_response(400, str(exc), "invalid_argument")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: f"No route {request.url.path}; see GET /openapi.json for this server's endpoints.",
                   405: f"{request.method} is not allowed on {request.url.path}."}.get(exc.status_code, str(exc.detail))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, message, code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, f"Internal server error ({type(exc).__name__}); see the server log.",
                              "internal_error")
