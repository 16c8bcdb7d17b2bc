"""The /exports page's tab state: this tab's modal, its upload, and every member page's start (the member's live
list, shared by their tabs, is state/exports_live.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import reflex as rx
from reflex.event import EventSpec

from exports_app import reflex_bridge
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.hls_states import HLS_STATES
from exports_app.routes import EXPORTS_ROUTE, OPEN_PARAM, publish_url, timeline_url
from exports_app.services import exports, faults, productions, storage
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.services.hls_status import HlsStatus
from exports_app.state.auth import AuthState, member_event
from exports_app.state.exports_live import NOTICES_KEPT, ExportsLive

UPLOAD_ID = "new-export"  # the upload control's id (its client-side files and its abort controller)
UPLOADING, CHECKING = "uploading", "checking"  # ExportModalState.upload_phase while a file is on its way
ONE_FILE = "Add one video at a time."


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
