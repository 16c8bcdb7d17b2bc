"""The outermost ASGI middleware: a request id for every HTTP answer, HTTP metrics, the tabs' socket count.

It sits outside the guard (exports_app.py's api_transformer list), so refusals the guard answers itself are
counted and carry a request id too. Metrics are labelled by the matched route's template ("/api/exports/
{upload_id}/hls-status"), never the path itself, so no id reaches a label; the method and the status by
metrics.method_label and metrics.status_label, so no client's made-up method does either.

A request id a client sends is kept only from a trusted proxy (api/proxy_trust.py, the FORWARDED_ALLOW_IPS rule);
anyone else's request gets a fresh one, so no client can give its requests another request's id in the log.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.routing import Route, WebSocketRoute

from exports_app import metrics
from exports_app.api.proxy_trust import from_trusted_proxy
from exports_app.logs import REQUEST_ID
from exports_app.services.faults import RETRY_AFTER_SECONDS, member_fault

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
# A trusted proxy's id is kept when it is short and plain; anything else gets a fresh one.
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
access = logging.getLogger("exports_app.access")


def route_label(scope: Scope) -> str:
    """The matched route's template, or "other" (pages, static files, anything unmatched): a bounded set."""
    route = scope.get("route")
    if isinstance(route, (Route, WebSocketRoute)):
        return route.path
    return "other"


def _request_id(scope: Scope) -> str:
    if not from_trusted_proxy(scope):
        return uuid.uuid4().hex
    for name, value in scope.get("headers", []):
        if name.lower() == REQUEST_ID_HEADER:
            sent = value.decode("latin-1")
            return sent if _GOOD_ID.fullmatch(sent) else uuid.uuid4().hex
    return uuid.uuid4().hex


class Observe:
    """Request ids, HTTP metrics and access lines (JSON logs only) for HTTP; the open-socket gauge for websockets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            metrics.CONNECTED_TABS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                metrics.CONNECTED_TABS.dec()
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response (none sent yet)

        async def with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        except Exception as exc:
            # The last resort for a fault outside the API's own handlers (the guard's sign-in check with the
            # database away): a 503 in words rather than the server's bare 500, if nothing was sent yet.
            fault = member_fault(exc)
            if fault is None or status != 500:
                raise
            status = 503
            body = json.dumps({"error": fault.message}).encode()
            await with_id(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - started
            route, method = route_label(scope), metrics.method_label(str(scope.get("method", "")))
            metrics.HTTP_REQUESTS.labels(route, method, metrics.status_label(status)).inc()
            metrics.HTTP_SECONDS.labels(route).observe(elapsed)
            access.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            REQUEST_ID.reset(token)
