"""Logs are not a client's to write: browser error reports from a tab.

Before the fix, four `handle_frontend_exception` events from a tab with no cookie wrote 3.6 MB to the server
log, including a forged line ("FORGED… [INFO] exports_app: member admin signed in from 10.0.0.1").
A report is now logged only for a signed-in tab, as one line of at most 500 characters, a few per member.
"""

from __future__ import annotations

import secrets
import uuid

import pytest
from reflex.state import FrontendEventExceptionState

from exports_app.state.auth import LoginState
from tests.security.world import World
from tests.support.socketio_client import EventSocket, handler_name, open_page, page_event

pytestmark = pytest.mark.e2e

REPORT = handler_name(FrontendEventExceptionState, "handle_frontend_exception")
SUBMIT = handler_name(LoginState, "submit")
BIG = 900_000
REPORT_LINES_LIMIT = 5  # a burst's worth per member (state/errors.py REPORTS_PER_MEMBER)
# Generous for one line: the line's own words, the tab token and 500 characters of report.
LINE_BYTES = 700


def forged_report(mark: str, size: int = BIG) -> str:
    return "x" * size + f"\n{mark} 2026-12-02 [INFO] exports_app: member admin signed in from 10.0.0.1\n" + "y" * 100


def report_then_sync(tab: EventSocket, path: str, reports: list[str]) -> None:
    """Send the reports, then an event with a visible answer: the tab's events run in order, so once that
    answer arrives every report has been handled (and logged, if it was going to be)."""
    since = len(tab.frames)
    for info in reports:
        tab.emit(page_event(REPORT, path, {"info": info, "component_stack": "at Page\n" * 20}))
    tab.emit(page_event(SUBMIT, path, {"form": {}}))
    assert tab.wait_for("Enter your username", timeout=120, since=since), f"the tab never answered: {tab}"


def test_a_tab_without_a_session_cannot_write_the_log(world: World) -> None:
    mark = f"FORGED{secrets.token_hex(4)}"
    before = world.app.log.stat().st_size
    with open_page(world.url, str(uuid.uuid4()), "/login", cookie=None) as tab:
        assert tab.connected
        report_then_sync(tab, "/login", [forged_report(mark)] * 4)
    text = world.app.log.read_text(errors="replace")
    assert mark not in text, "an anonymous tab's report reached the log"
    assert world.app.log.stat().st_size - before < LINE_BYTES, "the log grew from an anonymous tab's reports"


def test_a_signed_in_tab_writes_one_bounded_line_per_report_and_only_a_few(world: World) -> None:
    mark = f"FORGED{secrets.token_hex(4)}"
    before = world.app.log.stat().st_size
    with open_page(world.url, str(uuid.uuid4()), "/exports", cookie=world.bob.cookie) as tab:
        assert tab.connected
        report_then_sync(tab, "/exports", [f"{mark} " + forged_report(mark, BIG // 10)] * (REPORT_LINES_LIMIT + 10))
    lines = world.app.log.read_bytes()[before:].decode(errors="replace").splitlines()
    reported = [line for line in lines if mark in line]
    assert 1 <= len(reported) <= REPORT_LINES_LIMIT, f"{len(reported)} report lines"
    assert not any(line.startswith(mark) for line in lines), "a report forged a line of its own"
    assert all(len(line.encode()) < LINE_BYTES for line in reported), max(map(len, reported))
    assert world.app.log.stat().st_size - before < LINE_BYTES * (REPORT_LINES_LIMIT + 2)


def test_an_event_error_is_one_log_line_and_no_internal_error_toast(world: World) -> None:
    """An argument the handler does not take, named to forge a log line: before the fix Reflex logged the
    traceback with the forged line and showed "An error occurred."; now one line, and a useful message."""
    mark = f"FORGED{secrets.token_hex(4)}"
    before = world.app.log.stat().st_size
    with open_page(world.url, str(uuid.uuid4()), "/login", cookie=None) as tab:
        since = len(tab.frames)
        tab.emit(
            page_event(
                handler_name(LoginState, "show_error"),
                "/login",
                {"message": "hi", f"x\n{mark} [INFO] exports_app: member admin signed in": 1},
            )
        )
        tab.emit(page_event(SUBMIT, "/login", {"form": {}}))
        assert tab.wait_for("Enter your username", timeout=60, since=since), f"the tab never answered: {tab}"
        answers = "\n".join(tab.frames[since:])
    lines = world.app.log.read_bytes()[before:].decode(errors="replace").splitlines()
    assert "An error occurred" not in answers
    assert not any(line.startswith(mark) for line in lines), "the event forged a log line"
    assert len([line for line in lines if mark in line]) <= 1 and len(lines) <= 2, lines
