"""Sign-in routes: login sets the session and CSRF cookies, logout revokes, me says who you are."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from exports_app.api.common import ApiError, require_origin, signed_in
from exports_app.api.schemas import LoginOut, MemberOut, MeOut, OkOut, errors
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Credentials(BaseModel):
    # No NUL: no username has one, and PostgreSQL refuses it in any text parameter (a 500 instead of a 422).
    username: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00]+$")
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login", response_model=LoginOut, responses=errors(401, 403, 429))
def login(body: Credentials, request: Request, response: Response) -> LoginOut:
    require_origin(request)
    settings = get_settings()
    address = request.client.host if request.client else "unknown"
    with session_scope() as session:  # committed before answering, so a counted failure stays counted
        signin = auth.sign_in(
            session=session,
            username=body.username,
            password=body.password,
            address=address,
            planted_token=request.cookies.get(auth.SESSION_COOKIE),
            days=settings.session_days,
        )
    if isinstance(signin, auth.Refusal):
        wait = {"Retry-After": str(signin.retry_after)} if signin.retry_after is not None else None
        raise ApiError(signin.status, signin.message, headers=wait)
    member = signin.member
    # The CSRF cookie is readable by the page's script (it echoes it in a header); the session cookie is not.
    cookies = ((auth.SESSION_COOKIE, signin.token, True), (auth.CSRF_COOKIE, signin.csrf_token, False))
    for name, value, httponly in cookies:
        response.set_cookie(
            name,
            value,
            max_age=signin.max_age_seconds,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
            httponly=httponly,
        )
    return LoginOut(member=MemberOut.of(member), csrf_token=signin.csrf_token)


@router.post("/logout", response_model=OkOut, responses=errors(403))
def logout(request: Request, response: Response) -> OkOut:
    require_origin(request)
    with session_scope() as session:
        auth.end_session(session=session, token=request.cookies.get(auth.SESSION_COOKIE))
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    response.delete_cookie(auth.CSRF_COOKIE, path="/")
    return OkOut()


@router.get("/me", response_model=MeOut, responses=errors(401))
def me(request: Request) -> MeOut:
    with signed_in(request) as (_, member):
        return MeOut(member=MemberOut.of(member))
