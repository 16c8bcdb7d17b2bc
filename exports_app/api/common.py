"""What every route shares: the JSON error shape, the signed-in member, the CSRF and origin checks."""

from __future__ import annotations

from typing import Iterator
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from exports_app.db import session_scope
from exports_app.services import auth
from exports_app.services.auth import Member


class ApiError(HTTPException):
    """An error answered as {"error": message}."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)


def db_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


def current_member(request: Request, session: Session = Depends(db_session)) -> Member:
    member = auth.member_for_token(session, request.cookies.get(auth.SESSION_COOKIE))
    if member is None:
        raise ApiError(401, "Not signed in.")
    return member


def same_origin(request: Request) -> bool:
    """True when no Origin is sent, or its host:port is the request's Host."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    parts = urlsplit(origin)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host_name, _, host_port = host.rpartition(":") if ":" in host.split("]")[-1] else (host, "", "")
    expected_port = int(host_port) if host_port.isdigit() else (443 if request.url.scheme == "https" else 80)
    return parts.hostname.lower() == host_name.strip("[]").lower() and port == expected_port


def require_origin(request: Request) -> None:
    if not same_origin(request):
        raise ApiError(403, "Cross-origin request refused.")


def csrf_member(
    request: Request, member: Member = Depends(current_member), session: Session = Depends(db_session)
) -> Member:
    """The signed-in member of a state-changing request that passed the origin and CSRF checks."""
    require_origin(request)
    if not auth.csrf_matches(
        session,
        request.cookies.get(auth.SESSION_COOKIE),
        request.cookies.get(auth.CSRF_COOKIE),
        request.headers.get(auth.CSRF_HEADER),
    ):
        raise ApiError(403, "Missing or wrong CSRF token.")
    return member
