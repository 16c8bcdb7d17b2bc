"""A small raw socket.io client (Engine.IO 4 over a websocket) that talks to Reflex's `/_event/` like the page.

It sends exactly what the generated frontend (.web/utils/state.js) sends: the upgrade of
`/_event/?EIO=4&transport=websocket&token=<client token>`, the namespace CONNECT of `/_event` carrying the
boot event (`hydrate_and_load` with the page's router data), and `event` packets
`{"name": "<state path>.<handler>", "payload": {...}, "router_data": {...}}`. Unlike a browser it lets the
caller choose every header (Cookie, Origin, Host) and the client token, which is what an attacker does.
A refused upgrade is not an error: `status` says what the server answered.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

NAMESPACE = "/_event"
SAME_ORIGIN = "same-origin"  # the default Origin: the app's own, as a browser tab of the app sends it


def handler_name(state: type, handler: str) -> str:
    """The full event name the frontend sends for `state.handler` (e.g. `reflex___state____state.hydrate_and_load`)."""
    from reflex_base.utils.format import format_event_handler

    return format_event_handler(state.event_handlers[handler])  # type: ignore[attr-defined]


def hydrate_event_name() -> str:
    from reflex.state import State

    return handler_name(State, "hydrate_and_load")


def on_load_event_name() -> str:
    from reflex.state import OnLoadInternalState

    return handler_name(OnLoadInternalState, "on_load_internal")


def page_event(name: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event as the page sends it from `path`."""
    return {"name": name, "payload": payload or {}, "router_data": {"pathname": path, "asPath": path}}


@dataclass
class EventSocket:
    """One websocket to `/_event/`: the upgrade's status, then the socket.io session and every frame received."""

    status: int
    token: str = ""  # the client token this socket was opened with
    reason: str = ""
    connected: bool = False  # the namespace CONNECT was acknowledged
    connect_error: str | None = None
    closed: bool = False
    frames: list[str] = field(default_factory=list)
    _sock: socket.socket | None = field(default=None, repr=False)
    _ws: WSConnection | None = field(default=None, repr=False)
    _buffer: str = field(default="", repr=False)

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    @property
    def received(self) -> str:
        """Everything the server sent on this socket, as one string (to search for leaked data)."""
        return "\n".join(self.frames)

    def _send_text(self, text: str) -> None:
        assert self._sock is not None and self._ws is not None
        self._sock.sendall(self._ws.send(TextMessage(data=text)))

    def _handle(self, event: Event) -> None:
        if isinstance(event, TextMessage):
            self._buffer += event.data
            if not event.message_finished:
                return
            text, self._buffer = self._buffer, ""
            self.frames.append(text)
            if text == "2":  # Engine.IO ping: answer as the client library does
                self._send_text("3")
            elif text.startswith(f"40{NAMESPACE},"):
                self.connected = True
            elif text.startswith(f"44{NAMESPACE},"):
                self.connect_error = text
            elif text.startswith("1") or text.startswith(f"41{NAMESPACE}"):
                self.closed = True
        elif isinstance(event, Ping):
            assert self._sock is not None and self._ws is not None
            self._sock.sendall(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.closed = True

    def _pump(self, until: float) -> None:
        """Read and handle frames until the deadline or the connection ends."""
        assert self._sock is not None and self._ws is not None
        while not self.closed and (left := until - time.monotonic()) > 0:
            self._sock.settimeout(min(left, 0.5))
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            self._ws.receive_data(data)
            for event in self._ws.events():
                self._handle(event)

    def join(self, boot_event: dict[str, Any] | None, timeout: float = 10.0) -> bool:
        """Connect the `/_event` namespace with the boot event in the CONNECT packet, as the page does."""
        if not self.upgraded or self.closed:
            return False
        auth = {"event": boot_event} if boot_event is not None else {}
        self._send_text(f"40{NAMESPACE},{json.dumps(auth)}")
        deadline = time.monotonic() + timeout
        while not (self.connected or self.connect_error or self.closed) and time.monotonic() < deadline:
            self._pump(min(deadline, time.monotonic() + 0.5))
        return self.connected

    def emit(self, event: dict[str, Any]) -> None:
        """Send one event packet (ignored when the socket is not in the namespace)."""
        if self.connected and not self.closed:
            try:
                self._send_text(f'42{NAMESPACE},{json.dumps(["event", event])}')
            except OSError:
                self.closed = True

    def listen(self, seconds: float) -> str:
        """Keep receiving (and answering pings) for `seconds`; returns everything received so far."""
        if self._sock is not None and not self.closed:
            self._pump(time.monotonic() + seconds)
        return self.received

    def wait_for(self, text: str, timeout: float, since: int = 0) -> bool:
        """Receive until `text` appears in a frame (from frame number `since` on), or the timeout."""
        def seen() -> bool:
            return any(text in frame for frame in self.frames[since:])

        deadline = time.monotonic() + timeout
        while not seen() and not self.closed and time.monotonic() < deadline:
            self._pump(min(deadline, time.monotonic() + 0.25))
        return seen()

    def close(self) -> None:
        if self._sock is None:
            return
        try:
            if self.upgraded and not self.closed and self._ws is not None:
                self._sock.sendall(self._ws.send(CloseConnection(code=1000)))
        except Exception:  # the server may have dropped the socket already; closing must not fail the test
            pass
        self._sock.close()
        self._sock = None

    def __enter__(self) -> "EventSocket":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_socket(app_url: str, token: str, *, cookie: str | None = None, origin: str | None = SAME_ORIGIN,
                host: str | None = None, timeout: float = 10.0) -> EventSocket:
    """Upgrade `/_event/` on the app at app_url with this client token and these headers.

    origin: SAME_ORIGIN sends the app's own origin (as its page does), None sends no Origin header.
    host: the Host header to send (default: the app's host:port), e.g. a name a proxy would set.
    """
    url = urlsplit(app_url)
    host_header = host or url.netloc
    headers: list[tuple[bytes, bytes]] = []
    if origin is not None:
        headers.append((b"origin", (app_url if origin == SAME_ORIGIN else origin).encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    ws = WSConnection(ConnectionType.CLIENT)
    target = f"{NAMESPACE}/?EIO=4&transport=websocket&token={quote(token, safe='')}"
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    sock.sendall(ws.send(Request(host=host_header, target=target, extra_headers=headers)))
    result = EventSocket(status=0, token=token, _sock=sock, _ws=ws)
    deadline = time.monotonic() + timeout
    while result.status == 0 and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not data:
            break
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                result.status = 101
            elif isinstance(event, RejectConnection):
                result.status = event.status_code
            elif isinstance(event, RejectData):
                result.reason += event.data.decode(errors="replace")
            elif result.status == 101:
                result._handle(event)
    if not result.upgraded:
        result.closed = True
        result.close()
        return result
    result._pump(time.monotonic() + 0.2)  # the Engine.IO OPEN packet
    return result


def open_page(app_url: str, token: str, path: str, *, cookie: str | None = None, origin: str | None = SAME_ORIGIN,
              host: str | None = None, listen: float = 1.0) -> EventSocket:
    """Open a tab of `path` as the page does: upgrade, CONNECT with hydrate_and_load, then the page's on_load.

    Returns the socket whatever the server answered; callers inspect `status`, `connected` and `received`.
    """
    sock = open_socket(app_url, token, cookie=cookie, origin=origin, host=host)
    if sock.join(page_event(hydrate_event_name(), path)):
        sock.emit(page_event(on_load_event_name(), path))
        sock.listen(listen)
    return sock
