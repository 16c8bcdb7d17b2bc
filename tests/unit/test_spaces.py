"""Spaces: made by name (never blank), published to once, and shown with their publications to their owner only."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from exports_app.db import session_scope
from exports_app.domain import JobStatus, Pass
from exports_app.hls_states import IN_PROGRESS, READY
from exports_app.services import media_jobs, publish
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid, NotFound
from exports_app.services.hls_status import HdPass
from exports_app.transcode.base import JobReport, Rendition
from tests.support.records import add_upload, prep, ready_production

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_a_space_needs_a_name(alice: Member, blank: str) -> None:
    with session_scope() as s, pytest.raises(Invalid, match="Give the space a name."):
        publish.create_space(session=s, member=alice, name=blank)


def test_a_new_space_can_be_published_to_and_lists_what_is_there(alice: Member, bob: Member) -> None:
    production_id = ready_production(alice, "Launch teaser")
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
        assert (target.spaces, target.rendition_sizes) == ([], [])  # no renditions reported: none shown
        space = publish.create_space(session=s, member=alice, name="  My   channel ")
        assert space.name == "My channel"
    with session_scope() as s:
        assert publish.publish(session=s, member=alice, production_id=production_id, space_ids=[space.id]) == 1
        (choice,) = publish.publish_target(session=s, member=alice, production_id=production_id).spaces
        assert (choice.name, choice.published) == ("My channel", True)
        view = publish.space_view(session=s, member=alice, space_id=space.id)
        assert (view.name, [(i.production_id, i.title) for i in view.items]) == (
            "My channel",
            [(production_id, "Launch teaser")],
        )
        with pytest.raises(NotFound):
            publish.space_view(session=s, member=bob, space_id=space.id)  # someone else's
        for malformed in ("abc", 0):
            with pytest.raises(NotFound):
                publish.space_view(session=s, member=alice, space_id=malformed)


def test_the_publish_target_names_an_old_ladders_heights_highest_first(alice: Member, bob: Member) -> None:
    ladder = tuple(
        Rendition(f"hls/v{i}/index.m3u8", height, bandwidth)
        for i, (height, bandwidth) in enumerate(
            [(480, 1_528_000), (1080, 5_128_000), (720, 2_928_000), (720, 1_928_000)]
        )
    )
    production_id = ready_production(alice, "Ladder", ladder)
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
        assert target.rendition_sizes == ["1080p", "720p", "480p"]  # stored before widths were
        with pytest.raises(NotFound):  # nor anything of it for someone else
            publish.publish_target(session=s, member=bob, production_id=production_id)


def test_the_publish_target_names_portrait_sizes_as_portrait(alice: Member) -> None:
    ladder = (
        Rendition("hls/v0/index.m3u8", 640, 858_000, 360, 30.0),
        Rendition("hls/v1/index.m3u8", 1920, 5_128_000, 1080, 30.0),
        Rendition("hls/v2/index.m3u8", 416, 209_000, 234, 30.0),
    )
    production_id = ready_production(alice, "Phone video", ladder)
    with session_scope() as s:
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
    assert target.rendition_sizes == ["1080×1920", "360×640", "234×416"]


def test_the_publish_target_names_the_hd_sizes_on_their_way_while_the_hd_pass_runs(alice: Member) -> None:
    production_id = prep(alice, add_upload(alice, title="Wide", width=1280, height=720)).production_id
    assert production_id is not None
    fast_ladder = (
        Rendition("hls/v2/index.m3u8", 360, 858_000, 640, 25.0),
        Rendition("hls/v3/index.m3u8", 234, 209_000, 416, 25.0),
    )
    with session_scope() as s:
        jobs = {row.pending.request.pass_name: row.pending.request.media_job_id for row in pending_jobs(s)}
        assert set(jobs) == {Pass.FAST, Pass.HD}  # 1280×720: two passes
        done = JobReport(jobs[Pass.FAST], JobStatus.SUCCEEDED, master_playlist_uri="m.m3u8", renditions=fast_ladder)
        media_jobs.apply_report(session=s, report=done)
    for report in (None, JobReport(jobs[Pass.HD], JobStatus.RUNNING, percent=42)):
        with session_scope() as s:
            if report is not None:
                media_jobs.apply_report(session=s, report=report)
            target = publish.publish_target(session=s, member=alice, production_id=production_id)
        assert (target.rendition_sizes, target.coming_sizes) == (["640×360", "416×234"], ["1280×720", "960×540"])
    with session_scope() as s:
        media_jobs.apply_report(session=s, report=JobReport(jobs[Pass.HD], JobStatus.FAILED, error_message="No room"))
        target = publish.publish_target(session=s, member=alice, production_id=production_id)
    assert (target.rendition_sizes, target.coming_sizes) == (["640×360", "416×234"], [])  # it ended: none to come


def pending_jobs(session: Session) -> list[media_jobs.PendingRow]:
    return media_jobs.pending_jobs(session=session, provider="local")


def test_the_sizes_on_their_way_are_the_hd_rungs_not_stored_yet() -> None:
    running, ended = HdPass(IN_PROGRESS, 10), HdPass(READY, 100)
    wide, tall = {"width": 1920, "height": 1080}, {"width": 1080, "height": 1920}
    assert publish.coming_sizes(**wide, stored=["960×540", "640×360"], hd=running) == ["1920×1080", "1280×720"]
    assert publish.coming_sizes(**tall, stored=[], hd=running) == ["1080×1920", "720×1280", "540×960"]  # portrait
    assert publish.coming_sizes(**wide, stored=[], hd=ended) == publish.coming_sizes(**wide, stored=[], hd=None) == []
