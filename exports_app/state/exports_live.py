"""The member's live /exports list: one shared state linked to every tab of the member, the pages Show more added,
and each export's status, which the push writes (jobs/push.py)."""

from __future__ import annotations

from typing import cast

import reflex as rx
from reflex.vars import ArrayVar, ObjectVar

from exports_app import reflex_bridge
from exports_app.db import read_connection
from exports_app.services import productions
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus, prep_finished
from exports_app.services.secrets import member_token
from exports_app.state import growing_list, live_tabs
from exports_app.state.auth import member_event
from exports_app.state.views import ExportRow, Notice, StatusView, export_row, notice, status_view

PAGE_SIZE = 100  # rows per page: 1,000 exports render as fast as a few (bench/bench_list.py)
NOTICES_KEPT = 5  # the newest toasts a member's tabs can still show


# The pages Show more added since the list was last read whole, in state/growing_list.py's buckets (bucket i holds
# 2**i pages: their rows and their statuses): a click sends the new page, not every row shown, and a status change
# sends the statuses of its bucket only. 63 pages past the first; beyond, they all join the first page, once.
MORE_LEVELS = 6
MORE_ROWS = tuple(f"more_rows_{level}" for level in range(MORE_LEVELS))
MORE_STATUSES = tuple(f"more_statuses_{level}" for level in range(MORE_LEVELS))


class ExportsLive(rx.SharedState):
    """The member's exports and their statuses; linked per member, so every tab sees each change.

    `rows` and `statuses` hold the list as last read whole (its first `limit` rows); the pages Show more added since
    are in MORE_ROWS and MORE_STATUSES. Each export's status is in exactly one of the status stores.
    """

    rows: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    statuses: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_rows_0: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_rows_1: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_rows_2: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_rows_3: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_rows_4: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_rows_5: rx.Field[list[ExportRow]] = rx.field(default_factory=list)
    more_statuses_0: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_statuses_1: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_statuses_2: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_statuses_3: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_statuses_4: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    more_statuses_5: rx.Field[dict[str, StatusView]] = rx.field(default_factory=dict)
    shown: rx.Field[int] = rx.field(0)  # rows listed, in all
    total: rx.Field[int] = rx.field(0)
    limit: rx.Field[int] = rx.field(PAGE_SIZE)
    notices: rx.Field[list[Notice]] = rx.field(default_factory=list)
    notice_count: rx.Field[int] = rx.field(0)

    @rx.var
    def has_more(self) -> bool:
        return self.total > self.shown

    async def _join(self, member: Member) -> ExportsLive:
        """Link this tab to the member's live list, read afresh; returns the member's shared instance.

        Private: it runs inside a page's start (ExportModalState.start_page), whose member the guard checked.
        """
        key = member_token(member.id)
        live = await self._link_to(key)
        # The list goes to this tab; the member's other tabs already hold it, and what changed in it since
        # reached them (the push, their own events): a new tab costs them nothing.
        reflex_bridge.keep_to_this_tab()
        live._reload(member)
        await live_tabs.add(key, self.router.session.client_token)  # the push's address book (see live_tabs)
        return live

    def _reload(self, member: Member) -> None:
        """Re-read the member's list from the database (the source of truth), whole.

        Private, as every helper of a state: Reflex makes each public method an event any client can send,
        and this one's member would then be an event argument.
        """
        with read_connection() as connection:
            page = productions.export_page(connection=connection, member=member, limit=self.limit)
        self.total = page.total
        self.rows = [export_row(v) for v in page.views]
        self.statuses = {str(v.id): status_view(v.status) for v in page.views}
        self.shown = len(self.rows)
        for rows, statuses in zip(MORE_ROWS, MORE_STATUSES, strict=True):
            if getattr(self, rows):  # set only what held something: each var set is sent
                setattr(self, rows, [])
                setattr(self, statuses, {})

    @rx.event
    @member_event
    def show_more(self, member: Member) -> None:
        """The next page, added after the rows shown (and sent alone); nothing at all once every row is shown."""
        if self.shown >= self.total:
            return
        with read_connection() as connection:
            page = productions.export_page(connection=connection, member=member, limit=PAGE_SIZE, offset=self.shown)
        self.limit = self.shown + PAGE_SIZE
        listed = {key for _, store in self._status_stores() for key in store}
        # A list changed where no event of the member's reloaded it (an import from the command line) may repeat
        # the last row shown: it stays where it is.
        views = [v for v in page.views if str(v.id) not in listed]
        if not views:  # the list shrank under the page: read it whole
            self._reload(member)
            return
        self.total = page.total
        self._append([export_row(v) for v in views], {str(v.id): status_view(v.status) for v in views})

    def _append(self, rows: list[ExportRow], statuses: dict[str, StatusView]) -> None:
        known = {**{key: view for _, store in self._status_stores() for key, view in store.items()}, **statuses}
        changed = growing_list.carried([getattr(self, name) for name in MORE_ROWS], rows)
        if changed is None:  # every bucket full: all of them join the first page, once
            self.rows, self.statuses = self._listed_rows() + rows, known
            changed = {level: [] for level in range(MORE_LEVELS)}
        for level, bucket in changed.items():
            setattr(self, MORE_ROWS[level], bucket)
            setattr(self, MORE_STATUSES[level], {str(row.id): known[str(row.id)] for row in bucket})
        self.shown += len(rows)

    def _listed_rows(self) -> list[ExportRow]:
        return growing_list.in_order(self.rows, [getattr(self, name) for name in MORE_ROWS])

    def _status_stores(self) -> list[tuple[str, dict[str, StatusView]]]:
        """Each status var (by name) with what it holds: the first page's, then each bucket's."""
        return [(name, getattr(self, name)) for name in ("statuses", *MORE_STATUSES)]

    def _apply_statuses(self, changes: dict[int, HlsStatus]) -> None:
        """Apply new statuses of listed exports: the status stores the badges and the modal read.

        A prep that ended (in progress → ready or failed) also becomes a notice, the toast of the tabs
        whose modal of that export is closed.
        """
        stores = self._status_stores()
        where: dict[str, tuple[str, StatusView]] = {}  # each listed export's store and status now
        for key in map(str, changes):  # a look-up per store, not a walk of every status: the push's hot path
            found = next(((name, store[key]) for name, store in stores if key in store), None)
            if found is not None:
                where[key] = found
        listed = {uid: s for uid, s in changes.items() if str(uid) in where}
        ended = [(uid, s) for uid, s in listed.items() if prep_finished(where[str(uid)][1].state, s)]
        views = {str(uid): status_view(s) for uid, s in listed.items()}
        # Only the stores of changed statuses (and notices) go out to the tabs, not the rows; unchanged, nothing.
        for name in {where[key][0] for key, view in views.items() if where[key][1] != view}:
            mine = {key: view for key, view in views.items() if where[key][0] == name}
            setattr(self, name, {**getattr(self, name), **mine})
        if ended:
            titles = {row.id: row.title for row in self._listed_rows()}
            fresh = [
                notice(self.notice_count + n, uid, titles.get(uid, "Your export"), s)
                for n, (uid, s) in enumerate(ended, start=1)
            ]
            self.notice_count += len(fresh)
            self.notices = [*self.notices, *fresh][-NOTICES_KEPT:]


def statuses_var(name: str = "statuses") -> ObjectVar[dict[str, StatusView]]:
    """One of ExportsLive's status stores as the Var it is: `statuses` (the first page's) or one of MORE_STATUSES."""
    # Under mypy rx.Field's class access types every list, dict or dataclass field as ArrayVar[Never]: named here once.
    return cast(ObjectVar[dict[str, StatusView]], getattr(ExportsLive, name))


def rows_var(name: str) -> ArrayVar[list[ExportRow]]:
    """One of MORE_ROWS as the Var it is."""
    return cast(ArrayVar[list[ExportRow]], getattr(ExportsLive, name))


def status_var(key: rx.Var[str], store: ObjectVar[dict[str, StatusView]] | None = None) -> ObjectVar[StatusView]:
    """The StatusView Var of one export: in `store` (a row's badge: the store of the row's page), or, without one,
    in all the stores at once (the modal: one export, wherever it is listed)."""
    if store is None:
        store = statuses_var()
        for name in MORE_STATUSES:
            store = store.merge(statuses_var(name))
    return cast(ObjectVar[StatusView], store[key])
