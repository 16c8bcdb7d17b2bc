"""Live push: write changed statuses into each member's linked ExportsLive, reaching all their tabs."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from contextlib import AbstractAsyncContextManager
from typing import Callable, Iterable

import reflex as rx

from exports_app.db import session_scope
from exports_app.services import productions
from exports_app.services.hls_status import NOT_READY, HlsStatus
from exports_app.services.secrets import member_token

log = logging.getLogger(__name__)


def _statuses(changed: Iterable[tuple[int, int]]) -> dict[int, dict[int, HlsStatus]]:
    """The changed exports' statuses by member, read in one query."""
    pairs = list(changed)
    with session_scope() as session:
        found = productions.statuses_for(session, member=None, upload_ids=[upload_id for _, upload_id in pairs])
    by_member: dict[int, dict[int, HlsStatus]] = defaultdict(dict)
    for member_id, upload_id in pairs:
        by_member[member_id][upload_id] = found.get(upload_id, NOT_READY)
    return by_member


ModifyState = Callable[[rx.BaseStateToken], AbstractAsyncContextManager[rx.State]]
"""The app's `modify_state`, handed to the refresh lifespan by the app wiring (no import of the app here)."""


async def notify(changed: Iterable[tuple[int, int]], modify_state: ModifyState) -> None:
    """Push the new statuses of (member, upload) pairs; a member with no open tab costs one state write."""
    from exports_app.state.exports import ExportsLive

    by_member = await asyncio.to_thread(_statuses, list(changed))
    for member_id, statuses in by_member.items():
        token = rx.BaseStateToken(ident=member_token(member_id), cls=ExportsLive)
        try:
            async with modify_state(token) as root:
                live = await root.get_state(ExportsLive)
                live.set_statuses(statuses)
        except Exception:  # one member's push must not stop the others'
            log.exception("live push to member %s failed", member_id)
