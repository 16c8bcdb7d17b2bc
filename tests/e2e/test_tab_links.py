"""A member's new tab links to their live list without sending anything to the member's tabs already open; what a
tab's event changes in the list still reaches them.

Each tab of a member links to the member's shared list (ExportsLive) when /exports loads. Reflex marks every var
of a shared state dirty when a tab links to it and re-sends the whole list to every other linked tab, so a member
opening tabs one after another cost O(tabs²) list frames, most of a connect rush's work. The new tab gets its list;
the open ones, which already hold it, get nothing.

Tabs are raw socket.io clients (tests/socketio_client.py) that send what the page sends on its first load: the
namespace CONNECT carrying `hydrate_and_load`, which queues the page's on_load. What the first tab received
between the second tab's load and the answer to an event the first tab sends afterwards is checked, so no wait of
any length decides the result.
"""

from __future__ import annotations

import uuid

import pytest
from reflex_base.constants.state import FIELD_MARKER

from exports_app.services.auth import Member
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import PAGE_SIZE, ExportsLive
from tests.support.app_process import RunningApp
from tests.support.http import app_client
from tests.support.records import add_upload
from tests.support.socketio_client import EventSocket, handler_name, hydrate_event_name, open_socket, page_event

pytestmark = pytest.mark.e2e

PASSWORD = "tab links password"
SENTINEL = 987654321  # a notice id the first tab dismisses: its answer marks the end of what is checked
LIVE_STATE = ExportsLive.get_full_name()


def signed_in_cookie(app: RunningApp, name: str) -> str:
    with app_client(base_url=app.url, timeout=60) as client:
        client.post("/api/auth/login", json={"username": name, "password": PASSWORD}).raise_for_status()
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def open_exports_tab(app: RunningApp, cookie: str, title: str) -> EventSocket:
    """A tab of /exports as a browser opens it, once its list (with `title`) has arrived."""
    tab = open_socket(app.url, str(uuid.uuid4()), cookie=cookie)
    assert tab.join(page_event(hydrate_event_name(), "/exports")), f"namespace not joined: {tab}"
    assert tab.wait_for(title, timeout=60), f"the tab never got its list: {tab.received[-2000:]}"
    return tab


def test_a_new_tab_of_a_member_sends_nothing_to_their_open_tabs(app_server: RunningApp) -> None:
    name = f"links-{uuid.uuid4().hex[:8]}"
    made = app_server.cli("user", "create", name, "--password", PASSWORD)
    member = Member(int(made.rsplit("(id ", 1)[1].rstrip(")")), name)
    title = f"Linked list {uuid.uuid4().hex[:6]}"
    with app_server.in_this_process():  # a page more than the list shows (the newest one titled): Show more adds
        for older in range(PAGE_SIZE):
            add_upload(member, title=f"Older {older}")
        add_upload(member, title=title)
    cookie = signed_in_cookie(app_server, name)

    first = open_exports_tab(app_server, cookie, title)
    try:
        first.listen(1.0)  # whatever the first load still had on its way
        mark = len(first.frames)
        second = open_exports_tab(app_server, cookie, title)
        try:
            first.emit(page_event(handler_name(ExportModalState, "dismiss"), "/exports", {"notice_id": SENTINEL}))
            assert first.wait_for(str(SENTINEL), timeout=60), "the first tab's own event got no answer"
            during = first.frames[mark:]
            # What a tab's event does change in the list still reaches the member's other tabs: Show more.
            shown = len(first.frames)
            second.emit(page_event(handler_name(ExportsLive, "show_more"), "/exports"))
            assert first.wait_for(f'"limit{FIELD_MARKER}":200', timeout=60, since=shown), (
                "the open tab never got the list the other tab changed (Show more)"
            )
        finally:
            second.close()
        answer = next(i for i, frame in enumerate(during) if str(SENTINEL) in frame)
        sent_to_first = [frame for frame in during[:answer] if frame != "2"]  # Engine.IO pings aside
        assert sent_to_first == [], (
            f"the member's open tab got {len(sent_to_first)} frames when their new tab linked, "
            f"{sum(LIVE_STATE in f for f in sent_to_first)} of them the list: {sent_to_first[0][:300]}"
        )
    finally:
        first.close()
