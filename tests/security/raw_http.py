"""Raw HTTP/1.1 requests for the attacker: any target bytes, any declared length, a body that stops or trickles.

httpx normalizes paths (`..`) and always sends the whole body, so the tests that need the exact bytes on the
wire (hostile path parameters, a huge declared upload that is never sent, an early 401/413) use this instead.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CHUNK = 64 * 1024


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; a repeated header keeps its last value
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def json_error(self) -> str | None:
        """The "error" of a JSON error body, or None when the body is not such JSON."""
        try:
            body = self.json()
        except ValueError:
            return None
        return body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None


def _send_until_answered(sock: socket.socket, data: bytes, deadline: float) -> None:
    """Send data, but stop as soon as the server answers (or stops reading until the deadline)."""
    sent = 0
    while sent < len(data) and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock], [], max(0.0, deadline - time.monotonic()))
        if readable:
            return  # an early answer (401, 413, ...): read it instead of pushing more body
        if writable:
            try:
                sent += sock.send(data[sent : sent + CHUNK])
            except OSError:
                return  # the server closed its side after answering


def _dechunk(data: bytes) -> bytes | None:
    """The body of a chunked transfer, or None while its last chunk has not arrived."""
    out, rest = b"", data
    while b"\r\n" in rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            return out
        out, rest = out + rest[:size], rest[size + 2 :]
    return None


def _parse(data: bytes, complete: bool) -> RawResponse | None:
    """The response in data once it is whole (or, when the connection ended, whatever arrived)."""
    if b"\r\n\r\n" not in data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        whole = _dechunk(body)
        if whole is None and not complete:
            return None
        body = whole if whole is not None else body
    elif "content-length" in headers:
        if len(body) < int(headers["content-length"]) and not complete:
            return None
    elif not complete:
        return None
    return RawResponse(int(lines[0].split(" ", 2)[1]), headers, body)


def _read_response(sock: socket.socket, deadline: float) -> RawResponse | None:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            piece = sock.recv(CHUNK)
        except (TimeoutError, OSError):
            break
        if not piece:
            return _parse(data, complete=True)
        data += piece
        if (whole := _parse(data, complete=False)) is not None:
            return whole
    return _parse(data, complete=True) if b"\r\n\r\n" in data else None


def request(
    app_url: str,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    declared_length: int | None = None,
    send_limit: int | None = None,
    timeout: float = 15.0,
) -> RawResponse | None:
    """Send `method target` to the app exactly as given and return its answer, or None if none came in time.

    declared_length: the Content-Length to announce (default: the body's length).
    send_limit: send only this many body bytes, then stop sending and wait (the socket stays open).
    Sending also stops as soon as the server answers early (e.g. 401 or 413 before the body is read).
    """
    url = urlsplit(app_url)
    length = len(body) if declared_length is None else declared_length
    lines = [f"{method} {target} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if method not in ("GET", "HEAD") or body or declared_length is not None:
        lines.append(f"Content-Length: {length}")
    deadline = time.monotonic() + timeout
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        _send_until_answered(sock, body if send_limit is None else body[:send_limit], deadline)
        return _read_response(sock, deadline)


def multipart(files: list[tuple[str, bytes, str]], field: str = "files") -> tuple[str, bytes]:
    """(Content-Type header, body) of a multipart form with these (filename, content, content type) files."""
    boundary = f"----attacker{uuid.uuid4().hex}"
    body = b""
    for filename, content, content_type in files:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
            + content
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


@contextlib.contextmanager
def held_request(
    app_url: str, method: str, target: str, *, headers: dict[str, str], body: bytes, send_limit: int
) -> Iterator[socket.socket]:
    """A request whose first `send_limit` body bytes are sent and the rest held back while inside (the socket stays
    open, as a slow client's would); on exit the socket closes."""
    url = urlsplit(app_url)
    lines = [
        f"{method} {target} HTTP/1.1",
        f"Host: {url.netloc}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
        f"Content-Length: {len(body)}",
    ]
    with socket.create_connection((url.hostname, url.port), timeout=15) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body[:send_limit])
        yield sock


def answer_of(sock: socket.socket, timeout: float = 15.0) -> RawResponse | None:
    """The answer on a held request's socket, if one comes within the timeout."""
    return _read_response(sock, time.monotonic() + timeout)


@contextlib.contextmanager
def trickled_request(
    app_url: str, method: str, target: str, *, headers: dict[str, str], body: bytes, at_once: int, per_second: int
) -> Iterator[socket.socket]:
    """A request whose first `at_once` body bytes are sent at once and the rest `per_second` bytes a second (by a
    thread), until the body is sent, the server answers or closes, or the block exits; then the socket closes."""
    stop = threading.Event()
    with held_request(app_url, method, target, headers=headers, body=body, send_limit=at_once) as sock:

        def trickle() -> None:
            sent = at_once
            while sent < len(body) and not stop.wait(1.0):
                if select.select([sock], [], [], 0)[0]:
                    return  # answered (or closed): the reader takes it from here
                try:
                    sent += sock.send(body[sent : sent + per_second])
                except OSError:
                    return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        try:
            yield sock
        finally:
            stop.set()
            thread.join()
