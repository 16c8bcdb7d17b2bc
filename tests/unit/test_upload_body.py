"""Uploads that stop moving are cut: the pace rules on their own, then the guard on a real ASGI body stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exports_app import config as app_config
from exports_app.api.guard import Guard
from exports_app.api.upload_body import STALLED, TOO_LONG, Pace, UploadCut
from exports_app.db import session_scope
from exports_app.services import auth
from exports_app.services.auth import Member
from tests.support.event_loop import run_in_own_loop

TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
HANDLER = "state.export_modal_state.upload"
ENDED_WITHIN = 10.0  # seconds: far beyond every limit set here; an upload still open then was never cut


def settings(monkeypatch: pytest.MonkeyPatch, **values: str) -> app_config.Settings:
    for name, value in values.items():
        monkeypatch.setenv(f"EXPORTS_{name.upper()}", value)
    app_config.get_settings.cache_clear()
    return app_config.get_settings()


def test_a_body_has_its_declared_size_at_the_total_rate_on_top_of_the_floor(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = settings(monkeypatch, upload_time_floor_seconds="300", upload_total_rate="1000", max_upload_bytes="50000")
    assert Pace.of(rules, declared=20_000, now=100.0).deadline == 100 + 300 + 20
    assert Pace.of(rules, declared=None, now=100.0).deadline == 100 + 300 + 50  # undeclared: the largest allowed
    assert Pace.of(rules, declared=10**12, now=100.0).deadline == 100 + 300 + 50  # cut at the size limit anyway


def test_a_read_waits_until_idle_or_the_deadline_and_says_which_ended_it() -> None:
    pace = Pace(idle=30, min_rate=0, window=60, deadline=1000)
    assert pace.wait_limit(100) == 30 and pace.timed_out(100) == STALLED
    assert pace.wait_limit(990) == 10 and pace.timed_out(990) == TOO_LONG
    assert pace.wait_limit(1001) < 0


def test_each_window_of_waiting_must_bring_the_minimum_rate() -> None:
    pace = Pace(idle=30, min_rate=100, window=60, deadline=10**6)
    assert not any(pace.too_slow(1.0, 10) for _ in range(59))  # the grace period: 10 B/s is not judged yet
    assert pace.too_slow(1.0, 10)  # its end: 600 bytes in 60 s, under 100 B/s
    fast = Pace(idle=30, min_rate=100, window=60, deadline=10**6)
    assert not fast.too_slow(59.0, 6_000) and not fast.too_slow(2.0, 200)  # a window of 61 s and 6,200 bytes
    assert (fast.waited, fast.received) == (0.0, 0)  # the next window starts afresh
    assert fast.too_slow(61.0, 6_000)  # a later window that slowed down is judged on its own
    assert not Pace(idle=30, min_rate=0, window=1, deadline=10**6).too_slow(5.0, 0)  # rate 0: not checked


class Body:
    """An upload's body as the server hands it to the app: pieces that arrive over time, or stop arriving."""

    def __init__(self, pieces: list[bytes], every: float, then_stall: bool) -> None:
        self.pieces, self.every, self.then_stall = pieces, every, then_stall

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        for number, piece in enumerate(self.pieces):
            if number:
                await asyncio.sleep(self.every)
            last = number == len(self.pieces) - 1 and not self.then_stall
            yield {"type": "http.request", "body": piece, "more_body": not last}
        if self.then_stall:
            await asyncio.Event().wait()  # a client that went quiet: the server's receive waits on


async def run_upload(guard: Guard, member: Member, body: Body, declared: int) -> tuple[int, dict[str, Any], bool]:
    """POST one upload through the guard; (status, JSON answer, whether the answer closes the connection)."""
    with session_scope() as session:
        token = auth.start_session(session=session, member=member, days=1).token
    headers = [
        (b"cookie", f"{auth.SESSION_COOKIE}={token}".encode()),
        (b"reflex-client-token", TAB.encode()),
        (b"reflex-event-handler", HANDLER.encode()),
        (b"content-length", str(declared).encode()),
        (b"host", b"testserver"),
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_upload",
        "raw_path": b"/_upload",
        "query_string": b"",
        "headers": headers,
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
    }
    stream = body.messages()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return await anext(stream)

    async def send(message: Any) -> None:
        sent.append(message)

    await asyncio.wait_for(guard(scope, receive, send), ENDED_WITHIN)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    return int(start["status"]), answer, (b"connection", b"close") in start["headers"]


@pytest.fixture
def upload_app() -> tuple[Starlette, list[Exception]]:
    """An upload route that reads the body as Reflex's streaming upload route does: a ValueError from the stream
    fails the upload (Reflex hands it to the handler) and is answered 400."""
    failures: list[Exception] = []

    async def upload(request: Request) -> JSONResponse:
        try:
            async for _ in request.stream():
                pass
        except ValueError as exc:
            failures.append(exc)
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/_upload", upload, methods=["POST"])]), failures


def guard_of(app: Starlette) -> Guard:
    async def owner(tab: str) -> str | None:
        return "member-1" if tab == TAB else None

    return Guard(app, upload_handlers=frozenset({HANDLER}), tab_owner=owner, member_key=lambda m: f"member-{m}")


QUICK_CUTS = {"upload_idle_seconds": "0.5", "upload_rate_window_seconds": "0.5", "upload_min_rate": "5000"}
TIME_LIMIT = {"upload_min_rate": "0", "upload_time_floor_seconds": "0.3", "upload_total_rate": "10000"}


@pytest.mark.parametrize(
    ("rules", "body", "declared", "why"),
    [
        (QUICK_CUTS, Body([b"--part headers--"], every=0, then_stall=True), 4000, STALLED),  # then silence
        (QUICK_CUTS, Body([b"x" * 10] * 400, every=0.02, then_stall=False), 4000, STALLED),  # 500 B/s, not 5,000
        # moving, but slower than the total rate: cut at the floor plus its declared size at that rate (0.7 s)
        (TIME_LIMIT, Body([b"x" * 10] * 400, every=0.01, then_stall=False), 4000, TOO_LONG),
        (QUICK_CUTS, Body([b"x" * 2000] * 10, every=0.05, then_stall=False), 20_000, None),  # 40 kB/s: left alone
    ],
    ids=["stalled", "trickling", "past-its-time", "moving"],
)
def test_an_upload_that_stops_moving_is_cut_and_frees_its_slot(
    data_dir: Path,
    alice: Member,
    monkeypatch: pytest.MonkeyPatch,
    upload_app: tuple[Starlette, list[Exception]],
    rules: dict[str, str],
    body: Body,
    declared: int,
    why: str | None,
) -> None:
    settings(monkeypatch, **rules)
    app, failures = upload_app
    guard = guard_of(app)
    # On a loop of its own: in a worker that also runs browser tests, Playwright's loop owns this thread's.
    status, answer, closes = run_in_own_loop(run_upload(guard, alice, body, declared=declared))
    if why is None:
        assert (status, answer, closes, failures) == (200, {"ok": True}, False, [])
    else:
        assert (status, answer, closes) == (408, {"error": why}, True)
        assert [type(f) for f in failures] == [UploadCut] and str(failures[0]) == why, "the app was not told why"
    assert guard.uploads.by_member == {}, "the upload still holds its slot"
