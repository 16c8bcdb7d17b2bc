"""The websocket refuses foreign origins (the app is same-origin by default)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.support.app_process import RunningApp

pytestmark = pytest.mark.e2e
TAB_TOKEN = "0f8fad5b-d9cb-469f-a165-70867728950e"  # shaped like the frontend's own tab tokens


def websocket_handshake(app: RunningApp, origin: str) -> str:
    """The status line the server answers a websocket upgrade of Reflex's event endpoint with."""
    url = urlsplit(app.url)
    request = (
        f"GET /_event/?EIO=4&transport=websocket&token={TAB_TOKEN} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(request.encode())
        return conn.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


def test_foreign_origin_websocket_is_refused(app_server: RunningApp) -> None:
    assert " 101 " in websocket_handshake(app_server, app_server.url) + " "
    refused = websocket_handshake(app_server, "http://evil.example")
    assert " 101 " not in refused + " ", refused
