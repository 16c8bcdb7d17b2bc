"""The app's exception handlers and the one log sanitiser: no client writes more than one bounded line."""

from __future__ import annotations

import logging

import pytest
from reflex.event import EventSpec
from reflex_base.event import Event
from reflex_base.event.context import EventContext

from exports_app.db import session_scope
from exports_app.services import auth
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid
from exports_app.state import errors
from exports_app.text import LOG_TEXT_LIMIT, log_error, log_text
from exports_app.token_buckets import TokenBuckets

TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
FORGED = "boom\nFORGED 2026-12-02 [INFO] exports_app: member admin signed in\r\x1b[2J\u2028\u202e"


def test_log_text_is_one_bounded_printable_line() -> None:
    line = log_text(FORGED + "x" * 10_000)
    assert len(line) == LOG_TEXT_LIMIT and line.endswith("…")
    assert line.isprintable() and "\n" not in line and "\x1b" not in line
    assert log_text("plain name.mp4") == "plain name.mp4"


def test_log_error_is_one_line_with_the_place() -> None:
    try:
        raise ValueError(FORGED)
    except ValueError as exc:
        line = log_error(exc)
    assert line.startswith("ValueError: boom FORGED") and line.isprintable()
    assert "test_app_errors.py:" in line


class _Context:
    """An event running for a tab whose websocket handshake carried cookie."""

    def __init__(self, cookie: str) -> None:
        async def enqueue(token: str, *events: Event) -> None:
            return None

        self.context = EventContext(
            token=TAB,
            state_manager=None,  # type: ignore[arg-type]  # these events never reach the state
            enqueue_impl=enqueue,
            router_data={"headers": {"cookie": cookie}},
        )

    def __enter__(self) -> None:
        self._reset = EventContext.set(self.context)

    def __exit__(self, *_: object) -> None:
        EventContext.reset(self._reset)


@pytest.fixture
def fresh_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "_per_member", TokenBuckets(errors.REPORTS_PER_MEMBER, 3600))
    monkeypatch.setattr(errors, "_in_total", TokenBuckets(errors.REPORTS_IN_TOTAL, 3600))


def reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == errors.__name__]


def test_browser_reports_are_logged_for_signed_in_tabs_only(
    alice: Member, fresh_buckets: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=errors.__name__)
    with session_scope() as s:
        token = auth.start_session(session=s, member=alice, days=1).token
    errors.on_frontend_exception(Exception(FORGED))  # not from an event: nobody vouches for it
    with _Context(""):
        errors.on_frontend_exception(Exception(FORGED))
    with _Context(f"{auth.SESSION_COOKIE}=forged-token"):
        errors.on_frontend_exception(Exception(FORGED))
    assert reports(caplog) == []
    with _Context(f"{auth.SESSION_COOKIE}={token}"):
        for _ in range(errors.REPORTS_PER_MEMBER + 5):
            errors.on_frontend_exception(Exception(FORGED + "y" * 1_000_000))
    logged = reports(caplog)
    assert len(logged) == errors.REPORTS_PER_MEMBER
    assert all(
        line.isprintable() and len(line) < LOG_TEXT_LIMIT + 100 and f"member {alice.id}" in line for line in logged
    )


def test_backend_errors_are_one_line_and_a_useful_toast(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=errors.__name__)
    try:
        raise KeyError(FORGED)
    except KeyError as exc:
        shown = errors.on_backend_exception(exc)
    refused = errors.on_backend_exception(Invalid("A space needs a name."))
    assert isinstance(shown, EventSpec) and isinstance(refused, EventSpec)
    assert errors.UNEXPECTED in str(shown.args) and "A space needs a name." in str(refused.args)
    assert "An error occurred" not in str(shown.args)
    logged = reports(caplog)
    assert len(logged) == 2 and all(line.isprintable() for line in logged), logged
