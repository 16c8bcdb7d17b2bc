"""What one member (or one address) may hold and send over the event websocket: live tabs, and an event budget.

Both are counted where every socket message arrives (the hooks of reflex_bridge/patches.py), before Reflex parses
an event, queues it, loads the tab's state or takes its lock; the tab guard (state/tab_guard.py) runs later, on the
events let through.

- **Live tabs.** A socket counts for the member of its handshake's session cookie, or, without one, for its client
  address (an IPv6 client by its /64, as the sign-in throttle counts it). Past `max_tabs_per_member` (or
  `max_tabs_per_address`) the oldest socket is sent TOO_MANY_TABS, shown as a banner over its page, and
  disconnected: the page's socket.io client does not reconnect after the server's disconnect (it does when the
  page is shown again, as the newest tab), and a client that ignores it loses its connection too.
- **Event budget.** Every event and ping a tab sends spends a token of its tab's bucket and of its member's (or
  address's): token buckets with a burst and a sustained rate (settings). When either is empty the event is
  dropped, not processed; the tab gets TOO_FAST at most once a minute, and the log one line a minute for all tabs.
  The numbers come from what the pages send (bench/bench_event_budget.py: an honest tab never meets them).

Counts are this process's (each server worker keeps its own): with EXPORTS_WORKERS above 1 a member may hold up to
that many times the tabs and events, spread over the workers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import reflex as rx
from reflex.event import EventSpec

from exports_app import reflex_bridge as bridge
from exports_app.config import Settings
from exports_app.reflex_bridge import LiveApp, StateUpdate
from exports_app.services.throttle import client_key
from exports_app.state.auth import member_for_cookie
from exports_app.text import log_error
from exports_app.token_buckets import TokenBuckets, take_each

log = logging.getLogger(__name__)

TOO_MANY_TABS = "This page was closed because you opened it in too many tabs. Reload it to use it here."
TOO_FAST = "Too many actions at once, so some were ignored. Wait a moment, then try again."
CLOSED_ID = "tab-closed"  # the banner's element id and data-testid
TOO_FAST_ID = "too-fast"  # the toast's id: a second one replaces the first
NOTICE_EVERY_S = 60.0  # a tab over its budget is told at most this often
LOG_EVERY_S = 60.0  # and the log says so at most this often, for all tabs


def _banner(text: str) -> str:
    """A script that lays a banner saying `text` over the page (once), as Reflex's own new-version banner does."""
    return (
        f"(() => {{ if (document.getElementById('{CLOSED_ID}')) return; const box = document.createElement('div');"
        f" box.id = '{CLOSED_ID}'; box.setAttribute('data-testid', '{CLOSED_ID}'); box.setAttribute('role', 'alert');"
        " box.style.cssText = 'position:fixed;top:0;left:0;right:0;z-index:2147483647;padding:0.75rem 1rem;"
        "text-align:center;background:#1c2024;color:#fff;font:1rem system-ui,sans-serif';"
        f" box.textContent = {json.dumps(text)}; document.body.append(box); }})()"
    )


def _told(notice: EventSpec) -> StateUpdate:
    return StateUpdate(events=bridge.client_events(notice))


@dataclass
class SocketGuard:
    """The live tabs and event budgets of this process's sockets; its three methods are the socket's hooks (a
    reflex_bridge.patches.SocketWatch)."""

    settings: Settings
    _whose: dict[str, str] = field(default_factory=dict)  # sid -> "member <id>" or "address <client key>"
    _sockets: dict[str, dict[str, None]] = field(default_factory=dict)  # whose -> its sids, oldest first
    _dropped: int = 0  # events dropped since the last log line

    def __post_init__(self) -> None:
        s = self.settings
        self._per_tab = TokenBuckets.of_rate(burst=s.tab_event_burst, per_second=s.tab_events_per_second)
        self._per_member = TokenBuckets.of_rate(burst=s.member_event_burst, per_second=s.member_events_per_second)
        self._notices = TokenBuckets(1, NOTICE_EVERY_S)
        self._log_lines = TokenBuckets(1, LOG_EVERY_S)

    def _owner(self, cookie: str, address: str) -> tuple[str, int]:
        """Whom a socket counts for, and how many live sockets that one may hold."""
        try:
            member = member_for_cookie(cookie)
        except Exception:  # the database away: the socket still opens (its events say so), counted by its address
            member = None
        if member is not None:
            return f"member {member.id}", self.settings.max_tabs_per_member
        return f"address {client_key(address)}", self.settings.max_tabs_per_address

    async def opened(self, app: LiveApp, sid: str, cookie: str, address: str) -> None:
        """Count a new socket; past its owner's cap, close the oldest ones."""
        whose, cap = self._owner(cookie, address)
        self._whose[sid] = whose
        held = self._sockets.setdefault(whose, {})
        held[sid] = None
        while len(held) > cap:
            oldest = next(iter(held))
            self.closed(oldest)
            try:
                await bridge.close_socket(app, oldest, _told(rx.call_script(_banner(TOO_MANY_TABS))))
            except Exception as exc:  # a socket ending as it is closed: it no longer counts either way
                log.warning("could not close an old tab of %s: %s", whose, log_error(exc))

    def closed(self, sid: str) -> None:
        """Forget a socket that ended (or is being closed)."""
        whose = self._whose.pop(sid, None)
        held = self._sockets.get(whose or "")
        if held is not None:
            held.pop(sid, None)
            if not held:
                del self._sockets[whose or ""]

    async def admitted(self, app: LiveApp, sid: str, tab: str) -> bool:
        """Spend a token of the tab's budget and its owner's; when either is empty the event is dropped."""
        whose = self._whose.get(sid)
        buckets = [(self._per_tab, tab), *([(self._per_member, whose)] if whose else [])]
        if take_each(buckets):
            return True
        self._dropped += 1
        if self._log_lines.take(None):
            log.warning(
                "dropped events over the budget of tab %s (%s); %d dropped since the last such line",
                tab,
                whose or "unknown",
                self._dropped,
            )
            self._dropped = 0
        if self._notices.take(tab):
            await bridge.emit(app, _told(rx.toast.warning(TOO_FAST, id=TOO_FAST_ID)), tab)
        return False
