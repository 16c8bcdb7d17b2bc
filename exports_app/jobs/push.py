"""Live push: write changed statuses into each member's shared ExportsLive once, then send that delta to their tabs.

Reflex's own fan-out for a shared state re-opens every linked tab's state under its lock and works the delta out
again per tab (about 2.7 ms of CPU per tab, one tab at a time: bench/bench_capacity.py). A status push changes
only ExportsLive, whose vars no other state's computed var reads, so the delta is the same for every tab of the
member: it is worked out once, under the shared state's lock, and the same update is emitted to each connected
tab (relayed by Reflex to the worker holding the socket when there are several): the tabs Reflex linked and the
ones state/live_tabs recorded, which no lock expiry loses. A tab's own copy of ExportsLive is never read: each of
its events patches the shared one in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable

from exports_app import reflex_bridge as bridge
from exports_app.db import session_scope
from exports_app.reflex_bridge import LiveApp, StateUpdate
from exports_app.services import auth, productions
from exports_app.services.hls_status import NOT_STARTED, HlsStatus
from exports_app.services.secrets import member_token
from exports_app.state import live_tabs

log = logging.getLogger(__name__)
__all__ = ["LiveApp", "notify", "resend", "send", "write_shared"]


def _statuses(changed: Iterable[tuple[int, int]]) -> dict[int, dict[int, HlsStatus]]:
    """The changed exports' statuses by member, read in one query."""
    pairs = list(changed)
    with session_scope() as session:
        found = productions.statuses_for(session=session, member=None, upload_ids=[upload_id for _, upload_id in pairs])
    by_member: dict[int, dict[int, HlsStatus]] = defaultdict(dict)
    for member_id, upload_id in pairs:
        by_member[member_id][upload_id] = found.get(upload_id, NOT_STARTED)
    return by_member


async def write_shared(
    app: LiveApp, member_id: int, statuses: dict[int, HlsStatus]
) -> tuple[StateUpdate | None, set[str]]:
    """Apply the statuses to the member's shared ExportsLive: (the tabs' update if anything changed, the member's
    tabs to send it to)."""
    from exports_app.state.exports_live import ExportsLive

    key = member_token(member_id)
    async with bridge.shared_state(app, key, ExportsLive) as root:
        live = await root.get_state(ExportsLive)
        # The tabs Reflex linked and the ones live_tabs recorded, each still this member's under a live session;
        # a tab that changed hands or signed out also leaves Reflex's own fan-out to the member's tabs.
        linked = bridge.linked_from(live)
        tabs = await _owned_tabs(key, await _pruned_links(app, linked) | await live_tabs.of(key))
        linked.intersection_update(tabs)
        live._apply_statuses(statuses)
        delta = await bridge.sent_delta(root)  # these vars count as sent
    name = ExportsLive.get_full_name()
    # Only ExportsLive's own vars go out: the shared token's root (its router data) is nobody's tab.
    update = StateUpdate(delta={name: delta[name]}) if delta.get(name) else None
    return update, tabs


async def _pruned_links(app: LiveApp, linked: set[str]) -> set[str]:
    """The tabs Reflex linked to the shared state. Reflex never forgets one; past live_tabs.MAX_TABS the closed
    ones are dropped here (under the shared state's lock), so tabs opened and closed by the thousand cannot make
    every push walk them. A closed tab that comes back links again with its next event, and live_tabs has it."""
    if len(linked) > live_tabs.MAX_TABS:
        linked.difference_update([tab for tab in list(linked) if not await bridge.connected(app, tab)])
    return set(linked)


def _live(fingerprints: set[str]) -> set[str]:
    with session_scope() as session:
        return auth.live_sessions(session=session, fingerprints=fingerprints)


async def _owned_tabs(member_key: str, tabs: set[str]) -> set[str]:
    """The tabs among `tabs` bound to this member under a session that is still live (state/tab_guard binds them).

    A tab that signed out, changed hands or whose session was revoked gets nothing more of the member's,
    even before it sends its next event.
    """
    bound = {
        tab: session for tab, (key, session) in (await live_tabs.owners(sorted(tabs))).items() if key == member_key
    }
    live = await asyncio.to_thread(_live, set(bound.values())) if bound else set()
    return {tab for tab, session in bound.items() if session in live}


async def send(app: LiveApp, update: StateUpdate, tabs: Iterable[str]) -> int:
    """Emit one update to every connected tab among `tabs`; the number reached."""
    sent = 0
    for tab in tabs:
        # Closed tabs stay linked until the shared state expires: skip them (a disconnected emit only logs).
        if await bridge.connected(app, tab):
            await bridge.emit(app, update, tab)
            sent += 1
    return sent


async def notify(changed: Iterable[tuple[int, int]], app: LiveApp) -> None:
    """Push the new statuses of (member, upload) pairs; a member with no open tab costs one state write."""
    by_member = await asyncio.to_thread(_statuses, list(changed))
    for member_id, statuses in by_member.items():
        try:
            update, tabs = await write_shared(app, member_id, statuses)
            if update is not None:
                await send(app, update, tabs)
        except Exception:  # one member's push must not stop the others'
            log.exception("live push to member %s failed", member_id)


def _members(fingerprints: set[str]) -> dict[str, auth.Member]:
    with session_scope() as session:
        return auth.members_of_sessions(session=session, fingerprints=fingerprints)


async def resend(app: LiveApp, owners: dict[str, tuple[str, str]]) -> None:
    """Send tabs (tab → its member key and session fingerprint) their member's whole list, read again.

    After Redis restarted empty (jobs/tab_records), a member's shared list is gone, and a push made before the
    tabs' records were back reached none of them: each tab gets the list as the database has it now.
    """
    from exports_app.state.exports_live import ExportsLive

    members = await asyncio.to_thread(_members, {session for _, session in owners.values()})
    tabs_of: dict[int, set[str]] = defaultdict(set)
    member_of: dict[int, auth.Member] = {}
    for tab, (key, session) in owners.items():
        member = members.get(session)
        if member is not None and member_token(member.id) == key:  # still signed in, as the same member
            tabs_of[member.id].add(tab)
            member_of[member.id] = member
    name = ExportsLive.get_full_name()
    for member_id, tabs in tabs_of.items():
        try:
            async with bridge.shared_state(app, member_token(member_id), ExportsLive) as root:
                live = await root.get_state(ExportsLive)
                await asyncio.to_thread(live._reload, member_of[member_id])
                delta = await bridge.sent_delta(root)
            if delta.get(name):
                await send(app, StateUpdate(delta={name: delta[name]}), tabs)
        except Exception:  # one member's resend must not stop the others'
            log.exception("resend to member %s failed", member_id)
