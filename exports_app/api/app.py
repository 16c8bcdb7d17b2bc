"""The FastAPI app mounted into Reflex through api_transformer; maps service errors to JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from exports_app.api import auth_routes, export_routes, media_routes, ops_routes
from exports_app.api.common import limit_status
from exports_app.api.docs_page import OPENAPI_PATH, add_docs_page
from exports_app.config import get_settings
from exports_app.services.errors import Conflict, Invalid, LimitReached, NotFound, ServiceError, SignedOut
from exports_app.services.faults import RETRY_AFTER_SECONDS, StorageFull, Unavailable, member_fault
from exports_app.text import log_error, log_text

log = logging.getLogger(__name__)

_STATUS = {SignedOut: 401, NotFound: 404, Invalid: 422, Conflict: 409, StorageFull: 503, Unavailable: 503}


def _error(status: int, message: str) -> JSONResponse:
    # A 503 is the server's passing fault (a full disk, the database away): clients are told when to retry.
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def create_api(*, docs: bool | None = None) -> FastAPI:
    """The API; /api/docs and /api/openapi.json only with docs (default: EXPORTS_API_DOCS)."""
    docs = get_settings().api_docs if docs is None else docs
    api = FastAPI(
        title="exports_app API",
        version="1.0",
        docs_url=None,  # FastAPI's page starts Swagger UI with an inline script: ours has none (api/docs_page.py)
        redoc_url=None,
        openapi_url=OPENAPI_PATH if docs else None,
    )
    if docs:
        add_docs_page(api)
    api.include_router(auth_routes.router)
    api.include_router(export_routes.router)
    api.include_router(media_routes.router)
    api.include_router(ops_routes.router)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request refused."
        answer = _error(exc.status_code, message)
        answer.headers.update(exc.headers or {})  # e.g. Retry-After of a 429
        return answer

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(422, f"Invalid request: {where} {first.get('msg', '')}".strip())

    @api.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        if isinstance(exc, LimitReached):
            status, headers = limit_status(exc)
            return JSONResponse({"error": exc.message}, status_code=status, headers=headers)
        return _error(_STATUS.get(type(exc), 400), exc.message)

    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        fault = member_fault(exc)  # a full disk or an absent database: a 503 to retry, logged once there
        if fault is not None:
            return _error(_STATUS.get(type(fault), 503), fault.message)
        # One line: the path and the message may carry client input (text.log_text keeps it to one line).
        log.error("unexpected error in %s %s: %s", request.method, log_text(request.url.path), log_error(exc))
        return _error(500, "Internal error.")

    # The database's and the file system's errors by name, so a fault answered 503 is not re-raised to the
    # server's log as a crash (Starlette does that for the catch-all only).
    for kind in (SQLAlchemyError, OSError, Exception):
        api.add_exception_handler(kind, _unexpected)

    return api
