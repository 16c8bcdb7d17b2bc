"""Lists that grow on a page send what changed, not the whole list (state/growing_list.py), and say when a quota
stops them: /publish sends a new space alone and says when no more can be made; /exports sends the page Show more
adds alone, and says in the upload's refusal line when no upload can be kept. The states run under pytest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from reflex.istate.data import RouterData
from reflex.state import State
from reflex_base.utils.format import json_dumps

from exports_app import config as app_config
from exports_app.db import session_scope
from exports_app.domain import EXPORT_ROLE, utcnow
from exports_app.models import Upload
from exports_app.services import auth, publish
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus
from exports_app.state import growing_list
from exports_app.state.exports import ExportModalState
from exports_app.state.exports_live import PAGE_SIZE, ExportsLive
from exports_app.state.publish import ADDED, PublishState
from tests.support.clips import make_clip
from tests.support.records import import_clip, ready_production

LOADED = 40  # spaces the member has when the page loads


@pytest.fixture
def spaces_cap(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    cap = LOADED + 20
    monkeypatch.setenv("EXPORTS_MAX_SPACES_PER_MEMBER", str(cap))
    app_config.get_settings.cache_clear()
    yield cap
    app_config.get_settings.cache_clear()


def page_of(root: State, cls: type[Any]) -> Any:
    return root.get_substate(cls.get_full_name().split(".")[1:])


def signed_in_tab(member: Member, path: str = "/exports") -> State:
    """A tab of `path` whose websocket handshake carried a session cookie of member's."""
    with session_scope() as session:
        token = auth.start_session(session=session, member=member, days=1).token
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]  # BaseState.__init__ takes it; mypy misses it
    root.router = RouterData.from_router_data(
        {"headers": {"cookie": f"{auth.SESSION_COOKIE}={token}"}, "pathname": path.split("?")[0], "asPath": path}
    )
    return root


def publish_tab(member: Member, production_id: int) -> tuple[State, Any]:
    """A tab of /publish?production=… signed in as member, loaded, and what it has sent so far cleared."""
    root = signed_in_tab(member, f"/publish?production={production_id}")
    page = page_of(root, PublishState)
    page.load()
    sent(root)
    return root, page


def sent(root: State) -> str:
    """What the tab's next frame carries: the delta of the event just handled, as Reflex serialises it."""
    delta = json_dumps(root.get_delta())
    root._clean()  # type: ignore[no-untyped-call]  # Reflex's own, untyped
    return delta


# These tests call the states' @rx.event handlers as Reflex runs them, on the state instance. mypy types such a
# handler as rx.event's own class (EventNamespace.__new__ returns an EventCallback), so each call carries an
# ignore[operator]; page_of returns Any for the same reason.
def test_making_a_space_sends_the_new_space_not_the_list(alice: Member, spaces_cap: int) -> None:
    production_id = ready_production(alice, "Launch teaser")
    with session_scope() as session:
        loaded = [publish.create_space(session=session, member=alice, name=f"Loaded {n:03d}") for n in range(LOADED)]
    root, page = publish_tab(alice, production_id)
    frames = []
    for n in range(spaces_cap - LOADED):
        page.create_space({"name": f"Made here {n:03d}"})
        frames.append(sent(root))
    assert not any("Loaded" in frame for frame in frames), "a new space re-sent the spaces the page loaded"
    assert all(f"Made here {n:03d}" in frame for n, frame in enumerate(frames))
    # A made space is sent again only when its bucket carries into a higher one: far fewer than once per create.
    assert sum(frame.count("Made here") for frame in frames) <= 3 * len(frames)
    page.toggle(loaded[0].id, True)
    tick = sent(root)
    assert "Loaded" not in tick and "Made here" not in tick, "a tick re-sent the list"
    assert page.chosen_count == len(frames) + 1  # every space made here starts ticked, and the one ticked
    page.create_space({"name": "One too many"})
    assert page.message == f"You have {spaces_cap} spaces, the most a member can have."
    page.submit()
    with session_scope() as session:
        target = publish.publish_target(session=session, member=alice, production_id=production_id)
    assert sum(s.published for s in target.spaces) == len(frames) + 1
    assert page.chosen_count == 0 and len(page.published) == len(frames) + 1


def test_the_page_shows_the_spaces_made_here_after_those_it_loaded(alice: Member, spaces_cap: int) -> None:
    production_id = ready_production(alice, "Launch teaser")
    with session_scope() as session:
        publish.create_space(session=session, member=alice, name="Zebra")
    root, page = publish_tab(alice, production_id)
    for name in ("Alpha", "Beta", "Gamma"):
        page.create_space({"name": name})
    page.toggle(page.added_1[0].id, False)  # unticks Alpha, made here
    shown = [s.name for s in page.spaces] + [s.name for name in reversed(ADDED) for s in getattr(page, name)]
    assert shown == ["Zebra", "Alpha", "Beta", "Gamma"] and page.chosen_count == 2
    _, reloaded = publish_tab(alice, production_id)  # a new load: all by name, nothing ticked
    assert [s.name for s in reloaded.spaces] == ["Alpha", "Beta", "Gamma", "Zebra"] and reloaded.chosen_count == 0


def test_the_upload_line_says_when_no_upload_can_be_kept(
    alice: Member, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORTS_MAX_EXPORTS_PER_HOUR", "1")
    app_config.get_settings.cache_clear()
    modal = page_of(signed_in_tab(alice), ExportModalState)
    modal.start_upload()
    assert (modal.upload_phase, modal.upload_error) == ("uploading", "")
    import_clip(alice, make_clip(tmp_path / "clip.mp4", seconds=1.0, width=160, height=120))
    modal.start_upload()
    assert modal.upload_phase == ""
    assert modal.upload_error == (
        "You have uploaded 1 video in the last hour, the most a member can. Try again in 60 minutes."
    )
    app_config.get_settings.cache_clear()


EXPORTS = 3 * PAGE_SIZE + 40  # the first page, two pages Show more adds, and a last short one


def test_show_more_sends_the_next_page_not_the_rows_shown(alice: Member, data_dir: Path) -> None:
    with session_scope() as session:
        session.add_all(
            Upload(
                user_id=alice.id,
                video_role=EXPORT_ROLE,
                title=f"Export {n:04d}",
                filename="clip.mp4",
                storage_key=f"uploads/{alice.id}/x/clip.mp4",
                size_bytes=1000,
                created_at=utcnow() - timedelta(seconds=EXPORTS - n),
            )
            for n in range(EXPORTS)
        )
    root = signed_in_tab(alice)
    live = page_of(root, ExportsLive)
    live._reload(alice)
    first_page = {row.title for row in live.rows}
    sent(root)
    frames = []
    while live.has_more:
        live.show_more()
        frames.append(sent(root))
    assert len(frames) == 3 and not any(title in frame for frame in frames for title in first_page)
    titles = [row.title for row in live._listed_rows()]
    assert titles == [f"Export {n:04d}" for n in reversed(range(EXPORTS))], "not every export once, newest first"
    assert live.shown == live.total == EXPORTS
    live.show_more()  # everything is shown: nothing read, nothing sent (a click flood costs nothing)
    assert sent(root) == "{}"
    last = live._listed_rows()[-1].id
    live._apply_statuses({last: HlsStatus(state="in_progress", production_id=9, percent=5)})
    pushed = sent(root)
    assert '"in_progress"' in pushed and '"statuses' not in pushed.replace('"more_statuses', ""), (
        "a status on a page Show more added re-sent the first page's statuses"
    )
    assert "Export" not in pushed, "a status change re-sent rows"


def test_the_buckets_keep_the_order_and_send_each_item_a_few_times() -> None:
    """Appends past every bucket's room fold all into the base once; in between, an item is sent again only when
    its bucket carries into a higher one."""
    base: list[int] = []
    buckets: list[list[int]] = [[] for _ in range(growing_list.LEVELS)]
    sends = 0
    appends = 2**growing_list.LEVELS + 100  # through one fold
    for item in range(appends):
        changed = growing_list.carried(buckets, [item])
        if changed is None:
            base, buckets, sends = [*growing_list.in_order(base, buckets), item], [[] for _ in buckets], sends + 1
            continue
        for level, bucket in changed.items():
            buckets[level] = bucket
            sends += len(bucket)
        assert growing_list.in_order(base, buckets) == list(range(item + 1))
    assert sends <= appends * (growing_list.LEVELS + 1) / 2
