"""An upload's body as the app reads it: cut off when it grows past the limit or stops moving.

The guard (api/guard.py) hands the app an UploadBody in place of the server's own body stream once an upload has
taken its slot. A body too large ends as a disconnect and the client gets 413, as before. A body that stops
moving (nothing for EXPORTS_UPLOAD_IDLE_SECONDS, too few bytes over a window of waiting, or longer than its
declared size allows) is cut with UploadCut, which the page's upload handler receives from its chunk iterator and
shows in words; the client gets 408. Either way the request ends there, so its slot is free at once, and the
handler removes the staged file on its way out (state/exports.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from exports_app.config import Settings, get_settings
from exports_app.services.errors import ServiceError

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Refuse = Callable[[int, str], Awaitable[None]]
"""Answers the client with an error status and words (the guard's JSON error, with its headers)."""

STALLED = "The upload stopped moving and was cut off. Try again."
TOO_LONG = "The upload took too long and was cut off. Try again."
TIMED_OUT = 408


class UploadCut(ServiceError, ValueError):
    """Why an upload's body was cut off, in the member's words, raised to the app from the body stream.

    A ValueError because Reflex's streaming upload route (`_upload_chunk_file` in reflex_components_core's
    `_upload.py`) fails the handler's chunk iterator with a ValueError raised while it reads the body: the handler
    then ends through its own error path, which shows a ServiceError's message. tests/security/test_upload_limits.py
    checks that the page is told, so a Reflex that stops doing so fails there.
    """


def too_large(limit: int) -> str:
    return f"The file is larger than the limit of {limit / 1024**2:.0f} MB."


@dataclass
class Pace:
    """The timing rules of one upload's body, on a monotonic clock in seconds.

    The rate is measured only over the time spent waiting for the client: while the app is busy with what arrived
    (a slow disk, say), the client cannot send and is not to blame.
    """

    idle: float  # the longest one read may wait
    min_rate: float  # bytes a second each window must bring (0: not checked)
    window: float  # seconds of waiting per rate check; the first window is the grace period
    deadline: float  # when the whole body must have arrived
    waited: float = 0.0  # seconds waited in the current window
    received: int = 0  # bytes received in the current window

    @classmethod
    def of(cls, settings: Settings, *, declared: int | None, now: float) -> Pace:
        """The rules for a body of `declared` bytes (None: not declared, so the largest allowed) starting now."""
        size = settings.max_upload_bytes if declared is None else min(declared, settings.max_upload_bytes)
        return cls(
            idle=settings.upload_idle_seconds,
            min_rate=settings.upload_min_rate,
            window=settings.upload_rate_window_seconds,
            deadline=now + settings.upload_time_floor_seconds + size / settings.upload_total_rate,
        )

    def wait_limit(self, now: float) -> float:
        """How long the next read may wait (0 or less: the body's time is up)."""
        return min(self.idle, self.deadline - now)

    def timed_out(self, started: float) -> str:
        """Why a read that began at `started` and got nothing within its wait limit ends the upload."""
        return TOO_LONG if self.deadline - started < self.idle else STALLED

    def too_slow(self, waited: float, size: int) -> bool:
        """Count one read (seconds waited for it, bytes it brought); True when it closes a window that brought
        fewer than min_rate bytes for each second waited."""
        self.waited += waited
        self.received += size
        if self.waited < self.window:
            return False
        slow = self.received < self.min_rate * self.waited
        self.waited, self.received = 0.0, 0
        return slow


def declared_size(content_length: str | None) -> int | None:
    """The body size a request declares, or None (no Content-Length, or not a number)."""
    return int(content_length) if content_length and content_length.isdigit() else None


class UploadBody:
    """Counts body bytes as they arrive and times them: past the limit, or once the body stops moving, the app's
    read ends and the client gets the reason (413 or 408) in place of whatever the app answers."""

    def __init__(self, receive: Receive, send: Send, *, limit: int, pace: Pace, refuse: Refuse) -> None:
        self._receive, self._send, self._refuse = receive, send, refuse
        self.limit, self.pace = limit, pace
        self.read = 0
        self.cut: tuple[int, str] | None = None
        self.answered = False

    @classmethod
    def start(cls, receive: Receive, send: Send, *, content_length: str | None, refuse: Refuse) -> UploadBody:
        """The body of an upload that starts now, under the process's settings."""
        settings = get_settings()
        pace = Pace.of(settings, declared=declared_size(content_length), now=time.monotonic())
        return cls(receive, send, limit=settings.max_upload_bytes, pace=pace, refuse=refuse)

    async def receive(self) -> Message:
        if self.cut is not None:
            return {"type": "http.disconnect"}
        started = time.monotonic()
        wait = self.pace.wait_limit(started)
        try:
            if wait <= 0:
                raise TimeoutError
            # The server's receive only waits for its next piece of body: cancelling that wait loses nothing.
            async with asyncio.timeout(wait):
                message = await self._receive()
        except TimeoutError:
            raise self._cut_off(self.pace.timed_out(started)) from None
        if message["type"] == "http.request":
            size = len(message.get("body", b""))
            self.read += size
            if self.read > self.limit:
                self.cut = (413, too_large(self.limit))
                return {"type": "http.disconnect"}
            if self.pace.too_slow(time.monotonic() - started, size):
                raise self._cut_off(STALLED)
        return message

    def _cut_off(self, why: str) -> UploadCut:
        self.cut = (TIMED_OUT, why)
        return UploadCut(why)

    async def send(self, message: Message) -> None:
        if self.cut is not None:
            await self.finish()  # whatever the app answers to the cut-off body, the client learns why
        else:
            await self._send(message)

    async def finish(self) -> None:
        if self.cut is not None and not self.answered:
            self.answered = True
            await self._refuse(*self.cut)
