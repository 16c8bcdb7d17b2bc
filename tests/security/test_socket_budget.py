"""What one member, or anyone, can make the server spend over the event websocket: events, and live tabs.

Before the budget (issue 30), one socket sent 20,585 `open_modal` events in 10 s and the server processed 14,424 of
them, and one cookie opened 200 of 200 sockets, each hydrated with the member's list and kept open. Each attack
here plays raw socket.io frames as the page would (tests/support/socketio_client.py), as a member of its own, so
the budgets it spends are nobody else's in the suite. The limits are the defaults of exports_app/config.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from reflex_base.constants.state import FIELD_MARKER

from exports_app.config import Settings
from exports_app.state.exports import ExportModalState
from exports_app.state.socket_guard import TOO_FAST, TOO_MANY_TABS
from tests.security.world import MAX_ANONYMOUS_TABS, RUN, Member, World, create_member
from tests.support.socketio_client import EVENT, EventSocket, handler_name, open_page, packet_kind, page_event

pytestmark = pytest.mark.e2e

DEFAULTS = Settings.model_fields
TAB_BURST = int(DEFAULTS["tab_event_burst"].default)
TAB_RATE = float(DEFAULTS["tab_events_per_second"].default)
MEMBER_BURST = int(DEFAULTS["member_event_burst"].default)
MEMBER_RATE = float(DEFAULTS["member_events_per_second"].default)
MAX_TABS = int(DEFAULTS["max_tabs_per_member"].default)
EXTRA_TABS = 3

DISMISS = handler_name(ExportModalState, "dismiss")  # cheap, and every one changes the tab's state: one frame each
DISMISSED = json.dumps("dismissed" + FIELD_MARKER)  # the var's key in a delta
# The texts as they travel: a notice's words inside the JSON of a frame (the banner's inside its script too).
TOO_FAST_SENT = json.dumps(TOO_FAST)[1:-1]
TOO_MANY_TABS_SENT = json.dumps(json.dumps(TOO_MANY_TABS))[1:-1]


@pytest.fixture
def member(world: World) -> Member:
    """A member of this test's own: the event budget and tab count it spends are no other test's."""
    return create_member(world.app, f"sockets{RUN}{uuid.uuid4().hex[:6]}")


def processed(tab: EventSocket, since: int) -> int:
    """How many of the flood's dismiss events the server processed: each answers with one delta."""
    return sum(DISMISSED in frame for frame in tab.frames[since:])


def notices(tab: EventSocket, since: int) -> int:
    return sum(TOO_FAST_SENT in frame for frame in tab.frames[since:])


def settle(tabs: list[EventSocket]) -> None:
    """Receive on every tab until a whole round brings no event on any (the server has answered what it will)."""

    def events() -> int:
        return sum(packet_kind(frame) == EVENT for tab in tabs for frame in tab.frames)

    while True:
        before = events()
        for tab in tabs:
            tab.listen(0.1 if len(tabs) > 1 else 0.5)
        if events() == before:
            return


def open_tabs(world: World, count: int, path: str, cookie: str | None) -> list[EventSocket]:
    """Tabs opened one after the other, the earlier ones kept alive meanwhile: a socket whose keepalive pings go
    unanswered for long is closed by the server, which would take it out of the count."""
    opened: list[EventSocket] = []
    for _ in range(count):
        opened.append(open_page(world.url, str(uuid.uuid4()), path, cookie=cookie, listen=0.2))
        for tab in opened:
            tab.listen(0.001)
    return opened


@pytest.fixture
def tabs() -> Iterator[list[EventSocket]]:
    opened: list[EventSocket] = []
    yield opened
    for tab in opened:
        tab.close()


def test_a_flood_from_one_tab_is_dropped_after_its_burst_with_one_notice(
    world: World, member: Member, tabs: list[EventSocket]
) -> None:
    flood = 20 * TAB_BURST
    tab = open_page(world.url, str(uuid.uuid4()), "/exports", cookie=member.cookie)
    tabs.append(tab)
    assert tab.connected, tab
    since, started = len(tab.frames), time.monotonic()
    for n in range(flood):
        tab.emit(page_event(DISMISS, "/exports", {"notice_id": n}))
    settle(tabs)
    # Whatever the machine's pace, the tab cannot have been let through more than its burst and its refill since
    # the flood began (the time is the whole wait, an upper bound of the time its events took to arrive).
    allowed = TAB_BURST + TAB_RATE * (time.monotonic() - started)
    answered = processed(tab, since)
    assert 0 < answered <= allowed < flood, f"{answered} of {flood} events processed; the budget allows {allowed:.0f}"
    assert notices(tab, since) == 1, f"{notices(tab, since)} notices"
    assert not tab.closed, "the flooding tab keeps its socket: only its events over the budget are dropped"


def test_a_members_tabs_together_are_held_to_the_members_budget(
    world: World, member: Member, tabs: list[EventSocket]
) -> None:
    """Each tab stays inside its own burst; together they send several times the member's."""
    each = TAB_BURST - 5  # the page's own load spends a few of each tab's
    count = min(MAX_TABS, -(-4 * MEMBER_BURST // each))
    tabs += open_tabs(world, count, "/exports", member.cookie)
    assert all(tab.connected for tab in tabs), tabs
    settle(tabs)
    since = [len(tab.frames) for tab in tabs]
    started = time.monotonic()
    for tab in tabs:
        for n in range(each):
            tab.emit(page_event(DISMISS, "/exports", {"notice_id": n}))
    settle(tabs)
    allowed = MEMBER_BURST + MEMBER_RATE * (time.monotonic() - started)
    sent = count * each
    answered = sum(processed(tab, s) for tab, s in zip(tabs, since, strict=True))
    assert 0 < answered <= allowed < sent, f"{answered} of {sent} events processed; the budget allows {allowed:.0f}"
    told = [notices(tab, s) for tab, s in zip(tabs, since, strict=True)]
    assert max(told) == 1 and sum(told) >= 1, f"notices per tab: {told}"


def assert_the_oldest_were_closed(tabs: list[EventSocket], cap: int) -> None:
    oldest, kept = tabs[: len(tabs) - cap], tabs[len(tabs) - cap :]
    for n, tab in enumerate(oldest):
        assert tab.wait_for(TOO_MANY_TABS_SENT, timeout=20), f"old tab {n} was not told: {tab.received[-300:]}"
        tab.listen(5)  # until the server's disconnect arrives
        assert tab.closed, f"old tab {n} was told but kept its socket"
    for tab in kept:
        tab.listen(0.2)
    assert [n for n, tab in enumerate(kept) if tab.closed or TOO_MANY_TABS_SENT in tab.received] == []
    # The newest still work: an event is answered.
    newest, since = kept[-1], len(kept[-1].frames)
    newest.emit(page_event(DISMISS, "/exports", {"notice_id": 7}))
    assert newest.wait_for(DISMISSED, timeout=20, since=since), "the newest tab's event was not answered"


def test_one_cookie_keeps_its_newest_tabs_and_the_oldest_are_told(
    world: World, member: Member, tabs: list[EventSocket]
) -> None:
    tabs += open_tabs(world, MAX_TABS + EXTRA_TABS, "/exports", member.cookie)
    assert all(tab.connected for tab in tabs[-MAX_TABS:])
    assert_the_oldest_were_closed(tabs, MAX_TABS)


def test_one_address_keeps_its_newest_tabs_without_a_session(world: World, tabs: list[EventSocket]) -> None:
    """The suite's anonymous sockets all come from one address; any left open by others are older than these."""
    tabs += open_tabs(world, MAX_ANONYMOUS_TABS + EXTRA_TABS, "/login", None)
    assert all(tab.connected for tab in tabs[-MAX_ANONYMOUS_TABS:])
    assert_the_oldest_were_closed(tabs, MAX_ANONYMOUS_TABS)
