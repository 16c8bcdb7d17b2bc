"""A small raw socket.io client (Engine.IO 4 over a websocket) that talks to Reflex's `/_event/` like the page.

It sends exactly what the generated frontend (.web/utils/state.js) sends: the upgrade of
`/_event/?EIO=4&transport=websocket&token=<client token>`, the namespace CONNECT of `/_event` carrying the
boot event (`hydrate_and_load` with the page's router data), and `event` packets
`{"name": "<state path>.<handler>", "payload": {...}, "router_data": {...}}`. Unlike a browser it lets the
caller choose every header (Cookie, Origin, Host) and the client token, which is what an attacker does.
A refused upgrade is not an error: `status` says what the server answered.

Two flavours speak the same protocol: `EventSocket` (blocking, one socket at a time: the security tests) and
`AsyncEventSocket` (asyncio, a thousand tabs in one process: the capacity benchmark and its smoke test).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
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

if TYPE_CHECKING:
    from reflex.state import BaseState

NAMESPACE = "/_event"
SAME_ORIGIN = "same-origin"  # the default Origin: the app's own, as a browser tab of the app sends it


def handler_name(state: type[BaseState], handler: str) -> str:
    """The full event name the frontend sends for `state.handler` (e.g. `reflex___state____state.hydrate_and_load`)."""
    from reflex_base.utils.format import format_event_handler

    return format_event_handler(state.event_handlers[handler])


def hydrate_event_name() -> str:
    from reflex.state import State

    return handler_name(State, "hydrate_and_load")


def on_load_event_name() -> str:
    from reflex.state import OnLoadInternalState

    return handler_name(OnLoadInternalState, "on_load_internal")


def page_event(name: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """An event as the page sends it from `path`."""
    return {"name": name, "payload": payload or {}, "router_data": {"pathname": path, "asPath": path}}


# What a text frame from the server is (Engine.IO packet type, then the socket.io packet in a MESSAGE).
PING, CONNECTED, CONNECT_ERROR, CLOSED, EVENT, OTHER = "ping", "connected", "connect_error", "closed", "event", "other"


def packet_kind(text: str) -> str:
    """Classify one text frame the way the client library reacts to it."""
    if text == "2":  # Engine.IO ping: the client answers "3"
        return PING
    if text.startswith(f"40{NAMESPACE},"):
        return CONNECTED
    if text.startswith(f"44{NAMESPACE},"):
        return CONNECT_ERROR
    if text.startswith("1") or text.startswith(f"41{NAMESPACE}"):
        return CLOSED
    if text.startswith(f"42{NAMESPACE},"):
        return EVENT
    return OTHER


def event_payload(text: str) -> Any:
    """The data of an EVENT frame (`42/_event,["event", data]`): Reflex's {"delta": ..., "events": ...}."""
    name_and_data = json.loads(text[len(NAMESPACE) + 3 :])
    return name_and_data[1] if len(name_and_data) > 1 else None


def connect_packet(boot_event: dict[str, Any] | None) -> str:
    """The namespace CONNECT, carrying the boot event as the page does."""
    return f"40{NAMESPACE},{json.dumps({'event': boot_event} if boot_event is not None else {})}"


def event_packet(event: dict[str, Any]) -> str:
    return f"42{NAMESPACE},{json.dumps(['event', event])}"


def _upgrade(
    app_url: str, token: str, cookie: str | None, origin: str | None, host: str | None
) -> tuple[str, int, WSConnection, bytes]:
    """(host, port, connection, request bytes) of the websocket upgrade for this tab."""
    url = urlsplit(app_url)
    headers: list[tuple[bytes, bytes]] = []
    if origin is not None:
        headers.append((b"origin", (app_url if origin == SAME_ORIGIN else origin).encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    ws = WSConnection(ConnectionType.CLIENT)
    target = f"{NAMESPACE}/?EIO=4&transport=websocket&token={quote(token, safe='')}"
    request = ws.send(Request(host=host or url.netloc, target=target, extra_headers=headers))
    return str(url.hostname), int(url.port or 80), ws, request


def _read_answer(ws: WSConnection, data: bytes, result: EventSocket | AsyncEventSocket) -> list[Event]:
    """Take bytes of the server's answer to the upgrade: its status (and a refusal's body) go to result; the
    websocket frames that came after the acceptance in the same read are returned, for the caller to handle."""
    frames = []
    ws.receive_data(data)
    for event in ws.events():
        if isinstance(event, AcceptConnection):
            result.status = 101
        elif isinstance(event, RejectConnection):
            result.status = event.status_code
        elif isinstance(event, RejectData):
            result.reason += event.data.decode(errors="replace")
        elif result.status == 101:
            frames.append(event)
    return frames


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

    def _answer(self, text: str) -> None:
        """Answer a ping; a server that has closed the connection meanwhile may still have sent frames after the
        ping that the same read brought in, so a failed answer does not stop their handling."""
        with contextlib.suppress(OSError):
            self._send_text(text)

    def _handle(self, event: Event) -> None:
        if isinstance(event, TextMessage):
            self._buffer += event.data
            if not event.message_finished:
                return
            text, self._buffer = self._buffer, ""
            self.frames.append(text)
            kind = packet_kind(text)
            if kind == PING:
                self._answer("3")
            elif kind == CONNECTED:
                self.connected = True
            elif kind == CONNECT_ERROR:
                self.connect_error = text
            elif kind == CLOSED:
                self.closed = True
        elif isinstance(event, Ping):
            assert self._sock is not None and self._ws is not None
            with contextlib.suppress(OSError):
                self._sock.sendall(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.closed = True

    def _pump(self, until: float, done: Callable[[], bool] = lambda: False) -> None:
        """Read and handle frames until the deadline, the connection ends, or `done()` holds."""
        assert self._sock is not None and self._ws is not None
        while not self.closed and not done() and (left := until - time.monotonic()) > 0:
            self._sock.settimeout(min(left, 0.5))
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
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
        self._send_text(connect_packet(boot_event))
        # Back as soon as the server has answered the CONNECT (it counts the tab before it acknowledges it): a fixed
        # stretch of reading here made each tab opened take half a second more.
        self._pump(time.monotonic() + timeout, lambda: self.connected or self.connect_error is not None)
        return self.connected

    def emit(self, event: dict[str, Any]) -> None:
        """Send one event packet (ignored when the socket is not in the namespace)."""
        if self.connected and not self.closed:
            try:
                self._send_text(event_packet(event))
            except OSError:
                self.closed = True

    def listen(self, seconds: float) -> str:
        """Keep receiving (and answering pings) for `seconds`; returns everything received so far."""
        if self._sock is not None and not self.closed:
            self._pump(time.monotonic() + seconds)
        return self.received

    def wait_for(self, text: str | tuple[str, ...], timeout: float, since: int = 0) -> bool:
        """Receive until `text` (or any one of several) appears in a frame (from frame number `since` on), or the
        timeout."""
        texts = (text,) if isinstance(text, str) else text

        def seen() -> bool:
            return any(t in frame for frame in self.frames[since:] for t in texts)

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

    def __enter__(self) -> EventSocket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_socket(
    app_url: str,
    token: str,
    *,
    cookie: str | None = None,
    origin: str | None = SAME_ORIGIN,
    host: str | None = None,
    timeout: float = 10.0,
) -> EventSocket:
    """Upgrade `/_event/` on the app at app_url with this client token and these headers.

    origin: SAME_ORIGIN sends the app's own origin (as its page does), None sends no Origin header.
    host: the Host header to send (default: the app's host:port), e.g. a name a proxy would set.
    """
    hostname, port, ws, request = _upgrade(app_url, token, cookie, origin, host)
    sock = socket.create_connection((hostname, port), timeout=timeout)
    sock.sendall(request)
    result = EventSocket(status=0, token=token, _sock=sock, _ws=ws)
    deadline = time.monotonic() + timeout
    while result.status == 0 and time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except (TimeoutError, OSError):
            break
        if not data:
            break
        for event in _read_answer(ws, data, result):
            result._handle(event)
    if not result.upgraded:
        result.closed = True
        result.close()
        return result
    result._pump(time.monotonic() + 0.2, lambda: bool(result.frames))  # the Engine.IO OPEN packet, its first frame
    return result


def open_page(
    app_url: str,
    token: str,
    path: str,
    *,
    cookie: str | None = None,
    origin: str | None = SAME_ORIGIN,
    host: str | None = None,
    listen: float = 1.0,
) -> EventSocket:
    """Open a tab of `path` as the page does: upgrade, CONNECT with hydrate_and_load, then the page's on_load.

    Returns the socket whatever the server answered; callers inspect `status`, `connected` and `received`.
    """
    sock = open_socket(app_url, token, cookie=cookie, origin=origin, host=host)
    if sock.join(page_event(hydrate_event_name(), path)):
        sock.emit(page_event(on_load_event_name(), path))
        sock.listen(listen)
    return sock


FrameHandler = Callable[[Any, float], None]
"""Called with each EVENT frame's data (Reflex's {"delta": ...}) and the wall-clock time it arrived."""


@dataclass
class AsyncEventSocket:
    """One websocket to `/_event/` on asyncio: the same packets as EventSocket, many sockets in one loop.

    Frames are not kept (a thousand tabs would hold every delta): each EVENT frame goes to `on_event` with
    the time its last byte was read, and `frames_in`/`bytes_in` count what arrived.
    """

    status: int
    token: str = ""
    reason: str = ""
    connected: bool = False
    connect_error: str | None = None
    closed: bool = False
    frames_in: int = 0
    bytes_in: int = 0
    on_event: FrameHandler | None = field(default=None, repr=False)
    _reader: asyncio.StreamReader | None = field(default=None, repr=False)
    _writer: asyncio.StreamWriter | None = field(default=None, repr=False)
    _ws: WSConnection | None = field(default=None, repr=False)
    _buffer: str = field(default="", repr=False)
    _joined: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def upgraded(self) -> bool:
        return self.status == 101

    def _send_text(self, text: str) -> None:
        if self._writer is None or self._ws is None or self.closed:
            return
        try:
            self._writer.write(self._ws.send(TextMessage(data=text)))
        except (OSError, RuntimeError):
            self._end()

    def _end(self) -> None:
        self.closed = True
        self._joined.set()

    def _handle(self, event: Event, at: float) -> None:
        if isinstance(event, TextMessage):
            self._buffer += event.data
            if not event.message_finished:
                return
            text, self._buffer = self._buffer, ""
            self.frames_in += 1
            self.bytes_in += len(text)
            kind = packet_kind(text)
            if kind == PING:
                self._send_text("3")
            elif kind == CONNECTED:
                self.connected = True
                self._joined.set()
            elif kind == CONNECT_ERROR:
                self.connect_error = text
                self._joined.set()
            elif kind == CLOSED:
                self._end()
            elif kind == EVENT and self.on_event is not None:
                self.on_event(event_payload(text), at)
        elif isinstance(event, Ping):
            if self._writer is not None and self._ws is not None:
                self._writer.write(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self._end()

    async def _pump(self) -> None:
        """Read until the connection ends, answering pings and handing EVENT frames on."""
        assert self._reader is not None and self._ws is not None
        try:
            while not self.closed:
                data = await self._reader.read(65536)
                at = time.time()
                if not data:
                    break
                self._ws.receive_data(data)
                for event in self._ws.events():
                    self._handle(event, at)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._end()

    async def join(self, boot_event: dict[str, Any] | None, timeout: float = 30.0) -> bool:
        """Connect the `/_event` namespace with the boot event, as the page does; True once acknowledged."""
        if not self.upgraded or self.closed:
            return False
        self._send_text(connect_packet(boot_event))
        try:
            await asyncio.wait_for(self._joined.wait(), timeout)
        except TimeoutError:
            return False
        return self.connected

    def emit(self, event: dict[str, Any]) -> None:
        if self.connected:
            self._send_text(event_packet(event))

    async def drain(self) -> None:
        """Wait until what was emitted fits the connection's send buffer again (a sender's pace, not the loop's)."""
        if self._writer is not None and not self.closed:
            try:
                await self._writer.drain()
            except (OSError, RuntimeError):
                self._end()

    async def close(self) -> None:
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        try:
            if self.upgraded and not self.closed and self._ws is not None:
                writer.write(self._ws.send(CloseConnection(code=1000)))
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 5)
        except Exception:  # the server may have dropped the socket already; closing must not fail the caller
            pass
        self.closed = True
        if self._task is not None:
            self._task.cancel()


async def open_socket_async(
    app_url: str,
    token: str,
    *,
    cookie: str | None = None,
    origin: str | None = SAME_ORIGIN,
    host: str | None = None,
    timeout: float = 30.0,
    on_event: FrameHandler | None = None,
) -> AsyncEventSocket:
    """Upgrade `/_event/` with this client token and headers (see open_socket); frames then flow to on_event."""
    hostname, port, ws, request = _upgrade(app_url, token, cookie, origin, host)
    result = AsyncEventSocket(status=0, token=token, on_event=on_event, _ws=ws)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(hostname, port), timeout)
    except (TimeoutError, OSError) as exc:
        result.reason, result.closed = str(exc) or type(exc).__name__, True
        return result
    result._reader, result._writer = reader, writer
    writer.write(request)
    deadline = time.monotonic() + timeout
    pending: list[Event] = []
    try:
        while result.status == 0:
            data = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - time.monotonic()))
            if not data:
                break
            pending += _read_answer(ws, data, result)
    except (TimeoutError, OSError) as exc:
        result.reason = result.reason or str(exc) or type(exc).__name__
    if not result.upgraded:
        await result.close()
        return result
    at = time.time()
    for event in pending:
        result._handle(event, at)
    result._task = asyncio.create_task(result._pump())
    return result
