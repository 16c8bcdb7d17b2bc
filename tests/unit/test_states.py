"""The /exports states under pytest: the member comes from the handshake cookie; the modal and the live list."""

from __future__ import annotations

from pathlib import Path

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex.state import State

from exports_app.db import session_scope
from exports_app.services import auth, productions
from exports_app.services.auth import Member
from exports_app.services.hls_status import HdPass, HlsStatus
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import ExportsLive
from exports_app.state.views import (
    export_row,
    hd_line,
    human_duration,
    human_size,
    renditions_text,
    status_view,
)
from tests.support.event_loop import run_in_own_loop
from tests.support.records import add_upload


def tab(cookie: str = "") -> State:
    """A tab's state tree whose websocket handshake carried cookie."""
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]  # BaseState.__init__ takes it; mypy misses it
    root.router = RouterData.from_router_data({"headers": {"cookie": cookie}})
    return root


def signed_in_tab(member: Member) -> State:
    with session_scope() as session:
        token = auth.start_session(session=session, member=member, days=1).token
    return tab(f"{auth.SESSION_COOKIE}={token}; other=1")


# These tests call the states' @rx.event handlers as Reflex runs them, on the state instance. mypy types such a
# handler as rx.event's own class (EventNamespace.__new__ returns an EventCallback), so each call carries an
# ignore[operator].
def modal_of(root: State) -> ExportModalState:
    modal = root.get_substate(ExportModalState.get_full_name().split(".")[1:])
    assert isinstance(modal, ExportModalState)
    return modal


def live_of(root: State) -> ExportsLive:
    live = root.get_substate(ExportsLive.get_full_name().split(".")[1:])
    assert isinstance(live, ExportsLive)
    return live


def test_status_view() -> None:
    view = status_view(HlsStatus(state="in_progress", production_id=7, percent=42, phase="TRANSCODING"))
    assert (view.text, view.badge, view.percent, view.phase, view.production_id) == (
        "HLS: In progress…",
        "In progress",
        42,
        "Transcoding",
        7,
    )
    failed = status_view(HlsStatus(state="failed", detail="Broken input"))
    assert failed.detail == "Broken input" and failed.hls_url == "" and failed.production_id == 0


@pytest.mark.parametrize(("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (5 * 1024**3, "5.0 GB")])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_renditions_text() -> None:
    assert renditions_text(["1920×1080", "1280×720", "720p"]) == "Renditions: 1920×1080 · 1280×720 · 720p"
    assert (renditions_text(["1080×1920"]), renditions_text([])) == ("Renditions: 1080×1920", "")


def test_renditions_text_names_the_sizes_on_their_way() -> None:
    stored = ["640×360", "416×234"]
    assert renditions_text(stored, ["1920×1080", "1280×720", "960×540"]) == (
        "Renditions: 640×360 · 416×234 · 1920×1080, 1280×720 and 960×540 on their way"
    )
    assert renditions_text(stored, ["1280×720", "960×540"]) == (
        "Renditions: 640×360 · 416×234 · 1280×720 and 960×540 on their way"
    )
    assert renditions_text(stored, ["1280×720"]) == "Renditions: 640×360 · 416×234 · 1280×720 on its way"
    assert renditions_text([], ["1280×720"]) == "Renditions: 1280×720 on its way"


def ready_with(hd: HdPass | None) -> HlsStatus:
    return HlsStatus(state="ready", production_id=3, percent=100, hd=hd)


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (ready_with(HdPass("in_progress", 42)), "HD on its way · 42 %"),
        (ready_with(HdPass("in_progress")), "HD on its way · 0 %"),  # queued behind others' fast passes
        (
            ready_with(HdPass("failed", detail="The transcode timed out.")),
            "HD versions could not be made: The transcode timed out. It plays up to 360p.",
        ),
        (
            ready_with(HdPass("failed", detail="Conversion failed!")),
            "HD versions could not be made: Conversion failed! It plays up to 360p.",
        ),
        (
            ready_with(HdPass("failed", detail="ffmpeg exited with status 1")),
            "HD versions could not be made: ffmpeg exited with status 1. It plays up to 360p.",
        ),
        (ready_with(HdPass("failed")), "HD versions could not be made. It plays up to 360p."),
        (ready_with(HdPass("ready", 100)), ""),  # HD is in
        (ready_with(None), ""),  # one pass
        # Not ready: the status line and detail say it all (a fast pass that failed cancels the HD pass).
        (HlsStatus(state="in_progress", production_id=3, hd=HdPass("in_progress", 0)), ""),
        (HlsStatus(state="failed", production_id=3, detail="Bad", hd=HdPass("failed", detail="Canceled.")), ""),
    ],
)
def test_the_hd_line_under_a_ready_status(status: HlsStatus, line: str) -> None:
    assert hd_line(status) == line == status_view(status).hd


def test_an_hd_percent_that_moved_changes_the_status_the_push_sends(alice: Member, data_dir: Path) -> None:
    live = live_of(tab())
    uid = add_upload(alice)
    live._reload(alice)
    live._apply_statuses({uid: ready_with(HdPass("in_progress", 10))})
    live.dirty_vars.clear()
    live._apply_statuses({uid: ready_with(HdPass("in_progress", 10))})  # the same: nothing to send
    assert live.dirty_vars == set()
    live._apply_statuses({uid: ready_with(HdPass("in_progress", 42))})
    assert "statuses" in live.dirty_vars and live.statuses[str(uid)].hd == "HD on its way · 42 %"
    live._apply_statuses({uid: ready_with(HdPass("ready", 100))})  # HD landed: the line goes
    assert live.statuses[str(uid)].hd == "" and live.statuses[str(uid)].text == "HLS: Ready"


def test_human_duration() -> None:
    assert (human_duration(None), human_duration(59.6), human_duration(3725)) == ("–", "1:00", "1:02:05")


def test_export_row(alice: Member, data_dir: Path) -> None:
    uid = add_upload(alice, title="Launch")
    with session_scope() as session:
        row = export_row(productions.export_view(session=session, member=alice, upload_id=uid))
    assert (row.id, row.title, row.resolution, row.duration, row.size) == (uid, "Launch", "320×240", "0:02", "1000 B")


def test_apply_statuses_updates_only_listed_exports(alice: Member, data_dir: Path) -> None:
    live = live_of(tab())
    first, second = add_upload(alice), add_upload(alice)
    live._reload(alice)
    assert set(live.statuses) == {str(first), str(second)} and live.total == 2 and not live.has_more
    live._apply_statuses(
        {first: HlsStatus(state="in_progress", production_id=3, percent=10), 999: HlsStatus(state="ready")}
    )
    assert live.statuses[str(first)].text == "HLS: In progress…"
    assert live.statuses[str(second)].state == "not_ready" and "999" not in live.statuses


def test_signed_out_tab_is_sent_to_login(data_dir: Path, alice: Member) -> None:
    modal = modal_of(tab("exports_session=forged"))
    uid = add_upload(alice)
    result = run_in_own_loop(modal.open_modal(uid))  # type: ignore[operator]
    assert isinstance(result, rx.event.EventSpec) and modal.open_id == 0


def test_modal_opens_preps_and_refuses_others_exports(alice: Member, bob: Member, data_dir: Path) -> None:
    root = signed_in_tab(alice)
    modal, live = modal_of(root), live_of(root)
    mine, bobs = add_upload(alice, title="Mine"), add_upload(bob, title="Bob's")
    live._reload(alice)
    run_in_own_loop(modal.open_modal(mine))  # type: ignore[operator]
    assert (modal.open_id, modal.open_title, modal.modal_open) == (mine, "Mine", True)
    assert live.statuses[str(mine)].state == "not_ready"
    run_in_own_loop(modal.prep())  # type: ignore[operator]
    assert live.statuses[str(mine)].state == "in_progress"
    run_in_own_loop(modal.prep())  # type: ignore[operator]  # a double click makes no second job
    with session_scope() as session:
        assert productions.export_status(session=session, member=alice, upload_id=mine).state == "in_progress"

    run_in_own_loop(modal.open_modal(bobs))  # type: ignore[operator]  # an event argument naming someone else's export
    assert modal.message == "Export not found." and modal.open_id == mine and str(bobs) not in live.statuses


def test_delete_needs_the_member_and_closes_the_modal(alice: Member, bob: Member, data_dir: Path) -> None:
    root = signed_in_tab(alice)
    modal, live = modal_of(root), live_of(root)
    mine = add_upload(alice)
    live._reload(alice)
    run_in_own_loop(modal.open_modal(mine))  # type: ignore[operator]
    modal.ask_delete()  # type: ignore[operator]
    assert modal.confirming_delete
    run_in_own_loop(modal.confirm_delete())  # type: ignore[operator]
    assert modal.open_id == 0 and not modal.confirming_delete and live.statuses == {} and live.total == 0

    bob_tab = signed_in_tab(bob)
    bob_modal = modal_of(bob_tab)
    target = add_upload(alice)
    bob_modal.open_id = target  # a forged open id: the service still checks the owner
    run_in_own_loop(bob_modal.confirm_delete())
    assert bob_modal.message == "Export not found."
    with session_scope() as session:
        # still there
        assert productions.export_status(session=session, member=alice, upload_id=target).state == "not_ready"


def test_upload_progress_counts_only_while_uploading_and_cancel_resets(alice: Member, data_dir: Path) -> None:
    modal = modal_of(signed_in_tab(alice))
    modal.upload_progress({"progress": 0.5})  # type: ignore[operator]  # no upload under way
    assert (modal.upload_phase, modal.upload_percent) == ("", 0)
    modal.start_upload()  # type: ignore[operator]
    modal.upload_progress({"progress": 0.42})  # type: ignore[operator]
    modal.upload_progress({"progress": 0.3})  # type: ignore[operator]  # out of order: the bar never goes back
    for hostile in ("lots", {"progress": "half"}, {"progress": 7}):  # not the browser's count: ignored
        modal.upload_progress(hostile)  # type: ignore[operator]  # also not the declared payload type
    assert (modal.upload_phase, modal.upload_percent) == ("uploading", 42)
    assert modal.cancel_upload() is not None  # type: ignore[operator]  # the client's abort
    assert (modal.upload_phase, modal.upload_percent, modal.message) == ("", 0, "Upload canceled.")
    modal.upload_progress({"progress": 1.0})  # type: ignore[operator]  # a late count after the cancel
    assert (modal.upload_phase, modal.upload_percent) == ("", 0)
    assert modal.cancel_upload() is None  # type: ignore[operator]  # nothing left to cancel


def test_a_prep_that_ends_becomes_a_notice_once(alice: Member, data_dir: Path) -> None:
    live = live_of(tab())
    teaser, broken = add_upload(alice, title="Launch teaser"), add_upload(alice, title="Broken")
    live._reload(alice)
    live._apply_statuses({teaser: HlsStatus(state="ready", production_id=4)})  # not_ready → ready: no prep ended
    assert live.notices == []
    running = HlsStatus(state="in_progress", production_id=5)
    live._apply_statuses({teaser: running, broken: running})
    live._apply_statuses(
        {
            teaser: HlsStatus(state="ready", production_id=5),
            broken: HlsStatus(state="failed", production_id=6, detail="Invalid data"),
        }
    )
    live._apply_statuses({teaser: HlsStatus(state="ready", production_id=5)})  # a repeated push: no second toast
    assert [(n.id, n.upload_id, n.text, n.action, n.href) for n in live.notices] == [
        (1, teaser, "“Launch teaser” is ready to publish", "Publish", "/publish?production=5"),
        (2, broken, "“Broken” failed", "Open", f"/exports?open={broken}"),
    ]
    assert live.notice_count == 2
