"""What every route shares: the JSON error shape, the signed-in member, the CSRF and origin checks.

Routes open one `signed_in(...)` block instead of chained dependencies: each FastAPI sync dependency
is another threadpool hop, and the status route is the API's hot path.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, Request
from sqlmodel import Session

from exports_app.api.origins import origin_allowed
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.services import auth
from exports_app.services.auth import Member
from exports_app.services.errors import LimitReached


class ApiError(HTTPException):
    """An error answered as {"error": message}."""

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)


def limit_status(exc: LimitReached) -> tuple[int, dict[str, str]]:
    """A reached quota as HTTP: 429 with Retry-After while it frees up by itself, else 409 (a delete frees one)."""
    if exc.retry_after is None:
        return 409, {}
    return 429, {"Retry-After": str(exc.retry_after)}


def require_origin(request: Request) -> None:
    """403 unless the request comes from the app's own origin or an allowed one (see api/origins.py)."""
    if not origin_allowed(
        request.headers.get("origin"), request.headers.get("host", ""), get_settings().allowed_origins
    ):
        raise ApiError(403, "Cross-origin request refused.")


@contextmanager
def signed_in(request: Request, *, csrf: bool = False) -> Iterator[tuple[Session, Member]]:
    """A database session and the signed-in member (401 if none); with csrf, also the origin and CSRF checks."""
    with session_scope() as session:
        token = request.cookies.get(auth.SESSION_COOKIE)
        member = auth.member_for_token(session=session, token=token)
        if member is None:
            raise ApiError(401, "Not signed in.")
        if csrf:
            require_origin(request)
            if not auth.csrf_matches(
                session=session,
                token=token,
                csrf_cookie=request.cookies.get(auth.CSRF_COOKIE),
                csrf_header=request.headers.get(auth.CSRF_HEADER),
            ):
                raise ApiError(403, "Missing or wrong CSRF token.")
        yield session, member
