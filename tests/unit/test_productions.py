"""prep_hls and lookups: idempotent, safe under 50 concurrent calls, retry moves the pointer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from exports_app.db import read_connection, session_scope
from exports_app.domain import JobStatus
from exports_app.models import MediaJob, Production, Upload
from exports_app.services import exports, media_jobs, productions
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.services.hls_status import HlsStatus
from exports_app.transcode.base import JobReport, Rendition
from tests.support.records import add_upload, prep

T = TypeVar("T")
R = TypeVar("R")  # what a counted read runs on: an ORM session or a plain connection

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def test_fifty_concurrent_preps_make_one_production_and_one_job(alice: Member) -> None:
    upload_id = add_upload(alice)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: prep(alice, upload_id), range(50)))
    assert {r.state for r in results} == {"in_progress"}
    assert len({r.production_id for r in results}) == 1
    with session_scope() as s:
        assert len(s.exec(select(Production)).all()) == 1
        assert len(s.exec(select(MediaJob)).all()) == 1
        upload = s.get(Upload, upload_id)
        assert upload is not None and upload.create_video_production_id == results[0].production_id


def test_lookup_helpers(alice: Member) -> None:
    upload_id = add_upload(alice)
    with session_scope() as s:
        assert productions.find_by_export_upload_id(session=s, upload_id=upload_id) is None
    status = prep(alice, upload_id)
    with session_scope() as s:
        found = productions.find_by_export_upload_id(session=s, upload_id=upload_id)
        assert found is not None and found.production.id == status.production_id
        assert found.hls_status.state == "in_progress"
        assert status.production_id is not None
        assert productions.load_production_status(session=s, production_id=status.production_id).state == "in_progress"
        assert productions.load_production_status(session=s, production_id=999).state == "not_ready"


class ReportFields(TypedDict, total=False):
    """The JobReport fields these tests set."""

    percent: int | None
    phase: str | None
    error_message: str | None
    master_playlist_uri: str | None
    renditions: tuple[Rendition, ...]
    reported_at: datetime


def finish(job_id: int, status: JobStatus, **fields: Unpack[ReportFields]) -> bool:
    with session_scope() as s:
        return media_jobs.apply_report(session=s, report=JobReport(job_id, status, **fields))


def prepped(member: Member) -> tuple[int, HlsStatus, int]:
    """A new export of the member's, prepped: (its upload id, what the prep answered, the one media job's id)."""
    upload_id = add_upload(member)
    status = prep(member, upload_id)
    return upload_id, status, only_job_id()


def only_job_id() -> int:
    """The id of the one media job there is."""
    with session_scope() as s:
        job_id = s.exec(select(MediaJob.id)).one()
    assert job_id is not None
    return job_id


def test_reports_are_monotonic(alice: Member) -> None:
    upload_id, _, job_id = prepped(alice)
    assert finish(job_id, JobStatus.RUNNING, percent=30, phase="TRANSCODING")
    assert finish(job_id, JobStatus.SUCCEEDED, master_playlist_uri="hls/1/master.m3u8")
    # A late progress report never overwrites the terminal state.
    assert not finish(job_id, JobStatus.RUNNING, percent=50)
    assert not finish(job_id, JobStatus.FAILED, error_message="late")
    with session_scope() as s:
        assert productions.export_status(session=s, member=alice, upload_id=upload_id).state == "ready"


def test_a_success_stores_its_renditions_once(alice: Member) -> None:
    status = prep(alice, add_upload(alice))
    job_id = only_job_id()
    ladder = (
        Rendition("hls/1/v1/index.m3u8", 360, 928_000, 640, 29.97),
        Rendition("hls/1/v0/index.m3u8", 720, 2_928_000, 1280, 29.97),
    )
    assert finish(job_id, JobStatus.SUCCEEDED, master_playlist_uri="hls/1/master.m3u8", renditions=ladder)
    # A late success (a poll after the event) changes nothing, its renditions included.
    assert not finish(
        job_id,
        JobStatus.SUCCEEDED,
        master_playlist_uri="hls/1/master.m3u8",
        renditions=(Rendition("hls/1/v9/index.m3u8", 1080, 5_128_000),),
    )
    with session_scope() as s:
        production = s.get(Production, status.production_id)
        assert production is not None
        assert production.renditions == [
            {"uri": "hls/1/v1/index.m3u8", "height": 360, "bandwidth": 928_000, "width": 640, "frame_rate": 29.97},
            {"uri": "hls/1/v0/index.m3u8", "height": 720, "bandwidth": 2_928_000, "width": 1280, "frame_rate": 29.97},
        ]
        assert media_jobs.stored_renditions(production) == (ladder[1], ladder[0])  # highest first


def test_renditions_stay_unknown_unless_a_success_names_them(alice: Member) -> None:
    failed = prep(alice, add_upload(alice))
    with session_scope() as s:
        (job,) = media_jobs.pending_jobs(session=s, provider="local")
    assert finish(
        job.pending.request.media_job_id,
        JobStatus.FAILED,
        error_message="bad input",
        renditions=(Rendition("hls/1/v0/index.m3u8", 720, 1),),
    )
    silent = prep(alice, add_upload(alice))
    with session_scope() as s:
        (job,) = media_jobs.pending_jobs(session=s, provider="local")
    assert finish(job.pending.request.media_job_id, JobStatus.SUCCEEDED, master_playlist_uri="hls/2/master.m3u8")
    with session_scope() as s:
        for production_id in (failed.production_id, silent.production_id):
            production = s.get(Production, production_id)
            assert production is not None and production.renditions is None
            assert media_jobs.stored_renditions(production) == ()
    # A hand-edited row keeps what is a rendition and leaves out the rest rather than failing a page.
    edited = Production(
        user_id=alice.id,
        upload_id=1,
        renditions=[{"height": 480}, "junk", {"uri": "x", "height": "4"}],  # type: ignore[list-item]  # hand-edited junk
    )
    assert media_jobs.stored_renditions(edited) == (Rendition("x", 4, 0),)
    # Rows stored before sizes and frame rates were kept still read, as "not known" (0).
    old = Production(user_id=alice.id, upload_id=1, renditions=[{"uri": "v0.m3u8", "height": 720, "bandwidth": 9}])
    assert media_jobs.stored_renditions(old) == (Rendition("v0.m3u8", 720, 9, 0, 0.0),)


def test_stale_reports_are_ignored(alice: Member) -> None:
    from datetime import timedelta

    from exports_app.domain import utcnow

    _, _, job_id = prepped(alice)
    now = utcnow()
    assert finish(job_id, JobStatus.RUNNING, percent=60, reported_at=now)
    assert not finish(job_id, JobStatus.RUNNING, percent=20, reported_at=now - timedelta(seconds=5))
    with session_scope() as s:
        job = s.get(MediaJob, job_id)
        assert job is not None and job.percent == 60


def test_success_without_master_fails(alice: Member) -> None:
    upload_id, _, job_id = prepped(alice)
    assert finish(job_id, JobStatus.SUCCEEDED)
    with session_scope() as s:
        status = productions.export_status(session=s, member=alice, upload_id=upload_id)
    assert status.state == "failed" and "master playlist" in (status.detail or "")


def test_retry_after_failure_makes_a_new_production(alice: Member) -> None:
    upload_id, first, job_id = prepped(alice)
    assert finish(job_id, JobStatus.FAILED, error_message="Invalid data found when processing input")
    second = prep(alice, upload_id)
    assert second.state == "in_progress" and second.production_id != first.production_id
    third = prep(alice, upload_id)
    assert third.production_id == second.production_id


def test_ready_export_is_not_prepped_again(alice: Member) -> None:
    upload_id, first, job_id = prepped(alice)
    assert finish(job_id, JobStatus.SUCCEEDED, master_playlist_uri="hls/1/master.m3u8")
    again = prep(alice, upload_id)
    assert again.state == "ready" and again.production_id == first.production_id
    with session_scope() as s:
        assert len(s.exec(select(MediaJob)).all()) == 1


def test_other_members_export_is_not_found(alice: Member, bob: Member, session: Session) -> None:
    bobs = add_upload(bob)
    with pytest.raises(NotFound):
        productions.prep_hls(session=session, member=alice, upload_id=bobs, provider="local")
    with pytest.raises(NotFound):
        productions.export_status(session=session, member=alice, upload_id=bobs)


def count_selects(run: Callable[[Session], T]) -> tuple[T, int]:
    """(result of run(session), SELECT statements it sent)."""
    return _count_selects(run, session_scope)


def count_selects_on_connection(run: Callable[[sa.Connection], T]) -> tuple[T, int]:
    """(result of run(connection), SELECT statements it sent) on a plain connection: no ORM session at all."""
    return _count_selects(run, read_connection)


def _count_selects(run: Callable[[R], T], opened: Callable[[], AbstractContextManager[R]]) -> tuple[T, int]:
    from exports_app.db import get_engine

    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(get_engine(), "before_cursor_execute", listener)
    try:
        with opened() as s:
            result = run(s)
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", listener)
    return result, len([q for q in statements if q.lstrip().upper().startswith("SELECT")])


def test_a_page_of_many_exports_costs_one_query(alice: Member, data_dir: Path) -> None:
    for i in range(30):
        uid = add_upload(alice, title=f"e{i}")
        if i % 2:
            prep(alice, uid)
    page, selects = count_selects_on_connection(
        lambda c: productions.export_page(connection=c, member=alice, limit=100)
    )
    assert len(page.views) == page.total == 30 and selects == 1
    assert [v.title for v in page.views] == [f"e{i}" for i in reversed(range(30))]  # newest first
    assert {v.status.state for v in page.views} == {"not_ready", "in_progress"}
    later, _ = count_selects_on_connection(
        lambda c: productions.export_page(connection=c, member=alice, limit=10, offset=25)
    )
    assert [v.title for v in later.views] == ["e4", "e3", "e2", "e1", "e0"]


def test_export_page_and_its_total_cost_one_query(alice: Member, bob: Member, data_dir: Path) -> None:
    """The /exports list and its "N total" come from one statement on a plain connection (no ORM session: every tab's
    page load runs it): the total counts every live export of the member's, not just the page's, and nothing of
    anyone else's; each row's status is the one derivation's, as the modal's lookup gives it."""
    for i in range(5):
        uid = add_upload(alice, title=f"a{i}")
        if i % 2:
            prep(alice, uid)
    add_upload(bob)
    with session_scope() as s:
        exports.delete_export(session=s, member=alice, upload_id=add_upload(alice, title="gone"))
    page, selects = count_selects_on_connection(lambda c: productions.export_page(connection=c, member=alice, limit=3))
    assert selects == 1
    assert ([v.title for v in page.views], page.total) == (["a4", "a3", "a2"], 5)
    with session_scope() as s:
        assert page.views == [productions.export_view(session=s, member=alice, upload_id=v.id) for v in page.views]
    assert [v.status.state for v in page.views] == ["not_ready", "in_progress", "not_ready"]
    none, _ = count_selects_on_connection(lambda c: productions.export_page(connection=c, member=bob, limit=0))
    assert (none.views, none.total) == ([], 1)
    with session_scope() as s:
        for view in productions.export_page(connection=s, member=bob, limit=10).views:
            exports.delete_export(session=s, member=bob, upload_id=view.id)
    empty, _ = count_selects_on_connection(lambda c: productions.export_page(connection=c, member=bob, limit=3))
    assert (empty.views, empty.total) == ([], 0)


def test_statuses_for_many_exports_in_one_query(alice: Member, bob: Member, data_dir: Path) -> None:
    mine = [add_upload(alice, title=f"a{i}") for i in range(20)]
    for uid in mine[::3]:
        prep(alice, uid)
    bobs = add_upload(bob)
    statuses, selects = count_selects(
        lambda s: productions.statuses_for(session=s, member=alice, upload_ids=[*mine, bobs, 10**9])
    )
    assert selects == 1 and set(statuses) == set(mine)  # bob's and a missing id are left out
    assert {uid for uid, st in statuses.items() if st.state == "in_progress"} == set(mine[::3])
    everyone, _ = count_selects(lambda s: productions.statuses_for(session=s, member=None, upload_ids=[mine[0], bobs]))
    assert set(everyone) == {mine[0], bobs}
    with session_scope() as s:
        assert productions.statuses_for(session=s, member=alice, upload_ids=[]) == {}


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "１２", "12 ", " 7", -3, 0, "0x10", True, [1], None])
def test_valid_id_takes_only_plain_positive_integers(value: object) -> None:
    from exports_app.services.exports import valid_id

    expected = {"12 ": 12, " 7": 7}.get(value) if isinstance(value, str) else None
    assert valid_id(value) == expected
