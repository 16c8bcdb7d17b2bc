"""Whether a request came through a trusted proxy: the server's own X-Forwarded-For rule, its verdict kept.

uvicorn takes a proxy's X-Forwarded-For only from the addresses in FORWARDED_ALLOW_IPS (gunicorn's setting,
loopback by default) and then puts the client's address in the request where the proxy's was, so by the time
the app sees a request, nothing tells whether it came through that proxy. ProxyTrust runs uvicorn's same
middleware with the same setting (server_worker.py puts it where uvicorn's own would be) and, first, notes in the
request which side of the rule the connection is on. Whatever else the app takes from a proxy alone (its
X-Request-ID: api/observe.py) asks from_trusted_proxy, so there is one rule and one place that applies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

# A scope key only the server sets: no header or path reaches it.
TRUSTED_PROXY = "exports_app.trusted_proxy"


class ProxyTrust:
    """uvicorn's proxy-header middleware for trusted_hosts, which also records whether the connection is trusted."""

    def __init__(self, app: ASGIApp, trusted_hosts: list[str] | str) -> None:
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=trusted_hosts)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[TRUSTED_PROXY] = client is not None and client[0] in self.forwarded.trusted_hosts
        await self.forwarded(scope, receive, send)  # type: ignore[arg-type]


def from_trusted_proxy(scope: Scope) -> bool:
    """Whether the request's connection came from a trusted proxy; False wherever ProxyTrust did not run."""
    return scope.get(TRUSTED_PROXY) is True
