"""HTTP clients of the apps the tests start (plain http on loopback), all sharing one TLS context.

httpx builds a TLS context, loading the system's CA bundle, for every client and transport it makes (about 30 ms of
CPU each), though a client of http://127.0.0.1 never opens TLS; the security tests alone make hundreds of clients.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

TLS = ssl.create_default_context()


def app_client(**options: Any) -> httpx.Client:
    """httpx.Client(**options) with the shared TLS context."""
    return httpx.Client(verify=TLS, **options)


def app_async_client(**options: Any) -> httpx.AsyncClient:
    """httpx.AsyncClient(**options) with the shared TLS context."""
    return httpx.AsyncClient(verify=TLS, **options)


def app_transport(**options: Any) -> httpx.HTTPTransport:
    """httpx.HTTPTransport(**options) with the shared TLS context (a transport of its own: a client address)."""
    return httpx.HTTPTransport(verify=TLS, **options)
