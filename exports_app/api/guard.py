"""The ASGI guard in front of the whole app: origins, client tokens, upload limits, bad paths, security headers.

It wraps everything Reflex serves on the one port (pages, the `/_event` websocket, `/_upload`, the API and
`/media`), so each rule holds for every route, including the ones Reflex adds itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from exports_app.api.common import limit_status
from exports_app.api.docs_page import DOCS_PATH
from exports_app.api.origins import origin_allowed
from exports_app.api.upload_body import UploadBody, UploadCut, declared_size, too_large
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.frontend_bundle import SCRIPT_HASHES_FILE, recorded_script_hashes
from exports_app.reflex_bridge import CLIENT_TOKEN_HEADER, HANDLER_HEADER, HEALTH_PATH, UPLOAD_PATH, web_dir
from exports_app.services import auth, exports
from exports_app.services.errors import LimitReached

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Reflex's frontend names each tab with a random UUID; anything else (e.g. a guessed shared-state token) is refused.
CLIENT_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


SWAGGER_CDN = "https://cdn.jsdelivr.net"
# Everything but script-src, which carries the hashes of the pages' own inline scripts (SECURITY.md says why
# 'unsafe-eval' stays). 'self' covers the same-origin websocket (ws:/wss:) in connect-src; hls.js plays through
# MediaSource blob: URLs and may start a blob: worker; Radix and emotion inject <style> elements at run time.
_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(script_hashes: list[str], *, docs_page: bool = False) -> bytes:
    """The policy of an answer: scripts from this origin, plus the pages' own inline scripts by their hash.

    docs_page: /api/docs (api/docs_page.py, only with EXPORTS_API_DOCS=1) loads Swagger UI's script and style from
    jsDelivr.
    """
    scripts = " ".join(["'self'", "'unsafe-eval'", *script_hashes, *([SWAGGER_CDN] if docs_page else [])])
    policy = f"script-src {scripts}; {_POLICY}"
    if docs_page:
        policy = policy.replace("style-src 'self'", f"style-src 'self' {SWAGGER_CDN}")
    return policy.encode()


def security_headers(
    *, hsts: bool, script_hashes: list[str] | None = None, docs_page: bool = False
) -> list[tuple[bytes, bytes]]:
    """The headers every HTTP answer carries (SECURITY.md); a page's CSP names the pages' inline scripts."""
    headers = [
        (b"content-security-policy", content_security_policy(script_hashes or [], docs_page=docs_page)),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def _path_is_clean(scope: Scope) -> bool:
    """False for a path with a NUL or bytes that are not UTF-8: no route means anything by them."""
    raw = scope.get("raw_path")
    try:
        if isinstance(raw, (bytes, bytearray)):
            unquote_to_bytes(bytes(raw).split(b"?", 1)[0]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    path = scope.get("path", "")
    return "\x00" not in path and "\ufffd" not in path


async def _answer(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _member(token: str | None) -> auth.Member | None:
    with session_scope() as session:
        return auth.member_for_token(session=session, token=token)


def _over_quota(member: auth.Member) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    """(status, words, headers) when the member may not add an export now (services/exports.check_export_quota)."""
    try:
        with session_scope() as session:
            exports.check_export_quota(session=session, member=member)
    except LimitReached as exc:
        status, headers = limit_status(exc)
        return status, exc.message, [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return None


TabOwner = Callable[[str], Awaitable[str | None]]
"""The member key a tab token is bound to (state/tab_guard binds it at the tab's first event), or None."""


async def _no_owner(tab: str) -> str | None:
    return None


class UploadSlots:
    """Uploads in flight in this process, per member and in all: each holds a socket and a staged file."""

    def __init__(self, *, per_member: int, total: int) -> None:
        self.per_member, self.total = per_member, total
        self.by_member: dict[int, int] = {}

    def take(self, member_id: int) -> bool:
        if sum(self.by_member.values()) >= self.total or self.by_member.get(member_id, 0) >= self.per_member:
            return False
        self.by_member[member_id] = self.by_member.get(member_id, 0) + 1
        return True

    def give_back(self, member_id: int) -> None:
        left = self.by_member.get(member_id, 0) - 1
        if left > 0:
            self.by_member[member_id] = left
        else:
            self.by_member.pop(member_id, None)


class Guard:
    """One ASGI middleware holding the rules that must apply before any route runs.

    upload_handlers: the event handlers that take files (any other name at /_upload is refused with 400);
    tab_owner: who a tab token belongs to (an upload must come from the cookie of the tab's own member);
    both handed over by the app wiring, so this module knows no state class.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        upload_handlers: frozenset[str] = frozenset(),
        tab_owner: TabOwner = _no_owner,
        member_key: Callable[[int], str] = str,
    ) -> None:
        self.app = app
        self.upload_handlers, self.tab_owner, self.member_key = upload_handlers, tab_owner, member_key
        settings = get_settings()
        self.uploads = UploadSlots(per_member=settings.max_uploads_per_member, total=settings.max_uploads)
        self._page_scripts: list[str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Only the app's own pages may open the event socket, and only under a tab token of their own."""
        connection = HTTPConnection(scope)
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
        allowed = origin_allowed(
            connection.headers.get("origin"), connection.headers.get("host", ""), get_settings().allowed_origins
        )
        if not allowed or not CLIENT_TOKEN.fullmatch(token):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: answered 403
            return
        # Checked here, so the socket server's own check (which knows only a fixed list) is not needed.
        scope = {**scope, "headers": [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"origin"]}
        await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = get_settings()
        extra = security_headers(hsts=settings.secure_cookies)
        if not _path_is_clean(scope):
            await _answer(send, 400, "Bad request path.", extra)
            return
        connection = HTTPConnection(scope)
        if not origin_allowed(
            connection.headers.get("origin"), connection.headers.get("host", ""), settings.allowed_origins
        ):
            await _answer(send, 403, "Cross-origin request refused.", extra)
            return
        path: str = scope.get("path", "")
        if path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/"):
            await self._upload(connection, scope, receive, send, extra)
            return
        if path == HEALTH_PATH:
            await self._health(scope, receive, send, extra)
            return
        await self._forward(scope, receive, send, extra)

    async def _upload(
        self, connection: HTTPConnection, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]
    ) -> None:
        """An upload runs only once its member, tab, handler and size pass, and while a slot is free; its body is
        cut off when it grows past the limit or stops moving (api/upload_body.py), and its slot is free again."""
        member = await asyncio.to_thread(_member, connection.cookies.get(auth.SESSION_COOKIE))
        if member is None:
            await _answer(send, 401, "Not signed in.", extra)
            return
        limit = get_settings().max_upload_bytes
        refusal = await self._upload_refusal(connection, member, limit)
        if refusal is not None:
            await _answer(send, *refusal, extra)
            return
        over = await asyncio.to_thread(_over_quota, member) if scope.get("method") == "POST" else None
        if over is not None:  # the member's export quota: no disk spent on a file that cannot be kept
            await _answer(send, over[0], over[1], [*extra, *over[2]])
            return
        if not self.uploads.take(member.id):
            await _answer(
                send, 429, "Too many uploads at once. Wait for one to finish.", [*extra, (b"retry-after", b"5")]
            )
            return

        async def refuse(status: int, why: str) -> None:
            # The rest of a cut-off body is never read: the connection ends with the answer (the server would
            # otherwise keep it open for as long as the client trickles on).
            await _answer(send, status, why, [*extra, (b"connection", b"close")])

        body = UploadBody.start(receive, send, content_length=connection.headers.get("content-length"), refuse=refuse)
        try:
            # Reflex hands an UploadCut to the upload handler; should one come back up, the client is still told.
            with contextlib.suppress(UploadCut):
                await self._forward(scope, body.receive, body.send, extra)
            await body.finish()
        finally:
            self.uploads.give_back(member.id)

    async def _forward(self, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        """The app's answer with the security headers in its start; its body passes through unread."""
        names = {name for name, _ in extra}
        hsts = any(name == b"strict-transport-security" for name in names)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                if message.get("status") == 304:
                    # The browser keeps the stored answer's headers but takes the 304's over them: the stored
                    # page's policy is the one made for its content.
                    headers = [(k, v) for k, v in extra if k != b"content-security-policy"]
                elif _is_html(kept):
                    docs_page = scope.get("path") == DOCS_PATH
                    headers = security_headers(hsts=hsts, script_hashes=self.page_scripts(), docs_page=docs_page)
                else:
                    headers = extra
                message = {**message, "headers": [*kept, *headers]}
            await send(message)

        await self.app(scope, receive, with_headers)

    def page_scripts(self) -> list[str]:
        """The CSP hashes of the built pages' inline scripts, from the record the build left beside it
        (frontend_bundle.mark_built), read at the first page this process serves."""
        if self._page_scripts is None:
            recorded = recorded_script_hashes(web_dir())
            if recorded is None:
                log.warning(
                    "the frontend build has no %s: its pages' inline scripts will be refused; build it again "
                    "(python -m exports_app build-frontend)",
                    SCRIPT_HASHES_FILE,
                )
            self._page_scripts = recorded or []
        return self._page_scripts

    async def _health(self, scope: Scope, receive: Receive, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        """Reflex's health check, answered as ok or unavailable only: which backend failed is nobody's business."""
        status = 503

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])

        await self.app(scope, receive, keep_status)
        body = json.dumps({"status": "ok" if status == 200 else "unavailable"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if status == 200 else 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _upload_refusal(
        self, connection: HTTPConnection, member: auth.Member, limit: int
    ) -> tuple[int, str] | None:
        """Why a signed-in member's upload is refused before its body is read, or None."""
        if connection.scope.get("method") != "POST":
            return None
        token = connection.headers.get(CLIENT_TOKEN_HEADER, "")
        if not CLIENT_TOKEN.fullmatch(token):
            return 400, "Missing or malformed client token."
        if connection.headers.get(HANDLER_HEADER, "") not in self.upload_handlers:
            return 400, "This is not an upload."
        if await self.tab_owner(token) != self.member_key(member.id):
            # Identity is the request's own cookie: a tab token of another member's (or of no one) is refused.
            return 403, "This upload does not come from your own page. Reload it and try again."
        declared = declared_size(connection.headers.get("content-length"))
        if declared is not None and declared > limit:
            return 413, too_large(limit)
        return None


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k.lower() == b"content-type" and v.lower().startswith(b"text/html") for k, v in headers)


def add_cors(api: Starlette) -> None:
    """Credentialed CORS for the configured extra origins only; with none, no CORS headers at all.

    Replaces Reflex's own CORS set-up, which adds `allow-credentials: true` to every answer.
    """
    origins = get_settings().allowed_origins
    if origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-CSRF-Token"],
        )
