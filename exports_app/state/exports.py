"""The /exports page: the member's live list (shared by their tabs) and this tab's modal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import reflex as rx
from reflex.event import EventSpec
from reflex.vars import ArrayVar, ObjectVar

from exports_app import reflex_bridge
from exports_app.config import get_settings
from exports_app.db import read_connection, session_scope
from exports_app.hls_states import HLS_STATES
from exports_app.routes import EXPORTS_ROUTE, OPEN_PARAM, publish_url, timeline_url
from exports_app.services import exports, faults, productions, storage
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.services.hls_status import HlsStatus, prep_finished
from exports_app.services.secrets import member_token
from exports_app.state import growing_list, live_tabs
from exports_app.state.auth import AuthState, member_event
from exports_app.state.views import ExportRow, Notice, StatusView, export_row, notice, status_view

PAGE_SIZE = 100  # rows per page: 1,000 exports render as fast as a few (bench/bench_list.py)
NOTICES_KEPT = 5  # the newest toasts a member's tabs can still show
UPLOAD_ID = "new-export"  # the upload control's id (its client-side files and its abort controller)
UPLOADING, CHECKING = "uploading", "checking"  # ExportModalState.upload_phase while a file is on its way
ONE_FILE = "Add one video at a time."


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


class ExportModalState(rx.State):
    """This tab's modal (which export is open, delete confirmation, upload messages) and every member page's start."""

    open_id: rx.Field[int] = rx.field(0)
    last_opened: rx.Field[int] = rx.field(0)  # kept after the modal closes: focus goes back to this export's cog
    open_title: rx.Field[str] = rx.field("")
    open_project_id: rx.Field[int] = rx.field(0)
    confirming_delete: rx.Field[bool] = rx.field(False)
    message: rx.Field[str] = rx.field("")
    upload_error: rx.Field[str] = rx.field("")
    upload_phase: rx.Field[str] = rx.field("")  # "", UPLOADING (bytes on their way), CHECKING (the probe)
    upload_percent: rx.Field[int] = rx.field(0)
    notices_after: rx.Field[int] = rx.field(0)  # this tab shows the notices made after its page loaded
    dismissed: rx.Field[list[int]] = rx.field(default_factory=list)

    @rx.var
    def open_key(self) -> str:
        return str(self.open_id)

    @rx.var
    def modal_open(self) -> bool:
        return self.open_id > 0

    async def _live(self) -> ExportsLive:
        return await self.get_state(ExportsLive)

    async def _refresh_open(self, member: Member) -> HlsStatus | None:
        """Re-read the open export's status, or close the modal if it is gone."""
        try:
            with session_scope() as session:
                status = productions.export_status(session=session, member=member, upload_id=self.open_id)
        except ServiceError as exc:
            self.message = exc.message
            self.open_id = 0
            (await self._live())._reload(member)
            return None
        (await self._live())._apply_statuses({self.open_id: status})
        return status

    @rx.event
    @member_event
    async def open_modal(self, member: Member, upload_id: int) -> None:
        self.message = ""
        self.confirming_delete = False
        try:
            with session_scope() as session:
                view = productions.export_view(session=session, member=member, upload_id=upload_id)
        except ServiceError as exc:
            self.message = exc.message
            return
        self.open_title, self.open_project_id, self.open_id = view.title, view.project_id or 0, view.id
        self.last_opened = view.id
        (await self._live())._apply_statuses({view.id: view.status})

    @rx.event
    def close_modal(self) -> None:
        self._close_modal()

    def _close_modal(self) -> None:
        self.open_id = 0
        self.confirming_delete = False

    @rx.event
    @member_event
    async def start_page(self, member: Member) -> EventSpec | None:
        """Every signed-in page's load, in one event: the member's name in the header, this tab linked to the
        member's live list (so a toast reaches any page), toasts from now on only, and the modal a toast's Open
        asked for (?open=<id>). Signed out: /login, and nothing else runs (member_event).

        One event rather than three: each event costs a tab Reflex's state fetch, delta, serialisation and frame,
        and a session lookup, which a connect rush pays a thousand times over. For the same reason, where it is the
        page's one on_load (/exports) it ends the page's hydration too (reflex_bridge.patches.Server's hydrating).
        """
        (await self.get_state(AuthState)).username = member.username
        live = await (await self._live())._join(member)
        self.notices_after = live.notice_count
        self.dismissed = []
        self._close_modal()
        reflex_bridge.hydrated_by_its_one_load_event(self, "start_page")
        wanted = exports.valid_id(self.router.url.query_parameters.get(OPEN_PARAM, ""))
        if wanted is not None and self.router.url.path.rstrip("/") == EXPORTS_ROUTE:
            # mypy types an @rx.event handler as rx.event's own class (EventNamespace.__new__ returns another).
            return ExportModalState.open_modal(wanted)  # type: ignore[operator, no-any-return]
        return None

    @rx.event
    def dismiss(self, notice_id: int) -> None:
        """Hide a toast in this tab (the list stays as short as the notices a tab can show)."""
        self.dismissed = [*self.dismissed, notice_id][-2 * NOTICES_KEPT :]

    @rx.event
    async def set_modal_open(self, is_open: bool) -> None:
        if not is_open:
            # What this tab saw in the modal needs no toast once it closes.
            live = await self._live()
            self.dismissed = [*self.dismissed, *(n.id for n in live.notices if n.upload_id == self.open_id)]
            self._close_modal()

    @rx.event
    @member_event
    async def prep(self, member: Member) -> None:
        try:
            with session_scope() as session:
                status = productions.prep_hls(
                    session=session, member=member, upload_id=self.open_id, provider=get_settings().transcoder
                )
        except Exception as exc:  # a refusal, a full disk or an absent database: told in words
            told = faults.member_fault(exc)
            if told is None:
                raise
            self.message = told.message
            return
        (await self._live())._apply_statuses({self.open_id: status})

    @rx.event
    @member_event
    async def publish(self, member: Member) -> EventSpec | None:
        status = await self._refresh_open(member)
        if status is None or not HLS_STATES[status.state].publish_enabled or status.production_id is None:
            self.message = "Publish is available once HLS is ready."
            return None
        return rx.redirect(publish_url(status.production_id))

    @rx.event
    def open_timeline(self) -> EventSpec | None:
        if self.open_project_id:
            return rx.redirect(timeline_url(self.open_project_id))
        return None

    @rx.event
    def ask_delete(self) -> None:
        self.confirming_delete = True

    @rx.event
    def cancel_delete(self) -> None:
        self.confirming_delete = False

    @rx.event
    @member_event
    async def confirm_delete(self, member: Member) -> None:
        try:
            with session_scope() as session:
                exports.delete_export(session=session, member=member, upload_id=self.open_id)
        except ServiceError as exc:
            self.message = exc.message
        self.open_id = 0
        self.confirming_delete = False
        (await self._live())._reload(member)

    @rx.event
    @member_event
    def start_upload(self, member: Member) -> None:
        """The dropped file starts on its way (sent just before the upload itself, so no progress is missed).

        A member at their export quota is told so here, in the upload's refusal line: the guard refuses the upload
        itself before its body (and the import counts again, under the member's lock, for uploads at once).
        """
        self.message = self.upload_error = ""
        try:
            with session_scope() as session:
                exports.check_export_quota(session=session, member=member)
        except ServiceError as exc:
            self.upload_phase, self.upload_error = "", exc.message
            return
        self.upload_phase, self.upload_percent = UPLOADING, 0

    @rx.event
    def upload_progress(self, progress: dict[str, float]) -> None:
        """The browser's count of bytes sent; late counts after the upload ended change nothing."""
        if self.upload_phase != UPLOADING:
            return
        try:
            fraction = float(progress.get("progress", 0))
        except (AttributeError, TypeError, ValueError):  # not what the browser sends: nothing to count
            return
        if 0 <= fraction <= 1:
            self.upload_percent = max(self.upload_percent, int(fraction * 100))

    @rx.event
    def cancel_upload(self) -> EventSpec | None:
        """Abort the request; the server then drops the staged part (the upload handler's finally)."""
        if self.upload_phase != UPLOADING:
            return None
        self.upload_phase, self.upload_percent = "", 0
        self.message = "Upload canceled."
        return rx.cancel_upload(UPLOAD_ID)

    @rx.event(background=True)
    @member_event
    async def upload(self, member: Member, chunks: rx.UploadChunkIterator) -> None:
        """Stream the dropped file into one staged file in the data dir, probe it, then move it into place.

        The guard in front of /_upload already refused signed-out, oversized, foreign-tab and too many concurrent
        requests before the body. Here one request carries one file in one part (the page sends one): a second
        part ends the upload, so a request of thousands of parts holds one file open, not thousands.
        """
        staged: Path | None = None
        name: str | None = None
        message, error = "", ""
        try:
            staged = storage.staging_path()  # StorageFull here when the data dir is below its minimum
            with staged.open("wb") as out:
                async for chunk in chunks:
                    if chunk.offset == 0 and name is not None:  # a part starts after the first one
                        error = ONE_FILE
                        break
                    name = chunk.filename if name is None else name
                    out.seek(chunk.offset)
                    out.write(chunk.data)
            if name is None:
                error = error or "No file arrived."
            elif not error:
                async with self:
                    self.upload_phase, self.upload_percent = CHECKING, 100
                message, error = await asyncio.to_thread(_import_staged, member, name, staged)
        except Exception as exc:  # a full disk or the database away, told in words; the finally ends the phase
            told = faults.member_fault(exc, staged.parent if staged is not None else None)
            error = told.message if told is not None else "The upload failed. Try again."
            if told is None:
                raise
        finally:
            if staged is not None:
                staged.unlink(missing_ok=True)  # a refused or cut-off upload leaves nothing behind
            async with self:
                # A member's cancel already ended the phase and said so (cancel_upload); anything else is told here.
                if self.upload_phase != "" or message or error:
                    self.upload_phase = ""
                    self.message, self.upload_error = (
                        message,
                        error or ("" if message else "The upload did not finish. Try again."),
                    )
                if message:
                    (await self._live())._reload(member)


def _import_staged(member: Member, name: str, path: Path) -> tuple[str, str]:
    """(message, error) for one staged upload; the client's name is only shown, never used to store."""
    shown = storage.safe_filename(Path(name).name)
    try:
        with session_scope() as session:
            upload = exports.import_export(session=session, member=member, source=path, filename=shown, staged=True)
            return f"Added “{upload.title}”.", ""
    except ServiceError as exc:
        return "", f"{shown}: {exc.message}"
