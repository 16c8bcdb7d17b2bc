"""The e2e app's members and what tests set up behind the pages: the passwords they sign in with, and exports in
each state, made through the app's services (in this process, on the app's database: RunningApp.in_this_process)."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import col

from exports_app.db import session_scope
from exports_app.domain import JobStatus, Pass
from exports_app.models import MediaJob
from exports_app.services import auth, exports, media_jobs, productions, projects
from exports_app.services.auth import Member
from exports_app.transcode.base import JobReport
from tests.support.app_process import RunningApp

DEMO_PASSWORD = "demo-password-e2e"  # the seeded demo member's, on the e2e session's app
MEMBER_PASSWORD = "correct horse battery"  # every member a test creates with the CLI


def _member(username: str) -> Member:
    with session_scope() as session:
        member = auth.find_member(session=session, username=username)
    assert member is not None, f"no member {username!r}"
    return member


def corrupt_export(app: RunningApp, user: str, title: str) -> str:
    """An export whose file ffmpeg refuses at once (as the demo's "Broken render"): its prep fails."""
    with app.in_this_process(), tempfile.TemporaryDirectory() as tmp:
        # The demo seed's way: a video container's header over random bytes, refused by ffmpeg at once.
        broken = Path(tmp) / "broken.mp4"
        broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(4096))
        member = _member(user)
        with session_scope() as session:
            upload = exports.import_export(
                session=session, member=member, source=broken, title=title, allow_undecodable=True
            )
            return str(upload.id)


def queue_prep(app: RunningApp, user: str, upload_id: str, provider: str = "local") -> str:
    """Prep an export as its Prep button does; returns the production id.

    provider "mediaconvert" on an app running the local transcoder leaves the job queued for good (the
    refresh tick only takes its own provider's jobs): an export held In progress, without racing ffmpeg.
    """
    with app.in_this_process():
        member = _member(user)
        with session_scope() as session:
            prep = productions.prep_hls(session=session, member=member, upload_id=int(upload_id), provider=provider)
            return str(prep.production_id)


def queue_prep_hd_held(app: RunningApp, user: str, upload_id: str) -> str:
    """Prep an export above 540p with its HD pass held back; returns the production id.

    The fast pass runs on the app's local transcoder and makes the production ready; the HD pass waits, queued under
    the "mediaconvert" provider (as queue_prep's jobs), until release_hd hands it to the app or fail_hd ends it: the
    tests see the production ready without HD for as long as they need, without racing ffmpeg.
    """
    production_id = queue_prep(app, user, upload_id, provider="mediaconvert")  # both passes held, at first
    _hand_over(app, production_id, Pass.FAST)
    return production_id


def release_hd(app: RunningApp, production_id: str) -> None:
    """The held HD pass, handed to the app's local transcoder: its next refresh tick submits it."""
    _hand_over(app, production_id, Pass.HD)


def _hand_over(app: RunningApp, production_id: str, which: Pass) -> None:
    with app.in_this_process(), session_scope() as session:
        session.execute(
            sa.update(MediaJob)
            .where(col(MediaJob.production_id) == int(production_id), col(MediaJob.pass_name) == which.value)
            .values(provider="local")
        )


def fail_hd(app: RunningApp, production_id: str) -> None:
    """The held HD pass ends timed out, as after its one retry: the app never took it, so nothing tries it again."""
    with app.in_this_process(), session_scope() as session:
        job_id = session.execute(
            sa.select(col(MediaJob.id)).where(
                col(MediaJob.production_id) == int(production_id), col(MediaJob.pass_name) == Pass.HD.value
            )
        ).scalar_one()
        assert media_jobs.apply_report(session=session, report=JobReport(job_id, JobStatus.TIMED_OUT))


def project_with_export(app: RunningApp, user: str, title: str, clip: str, export_title: str) -> dict[str, int]:
    """A timeline project of the member and an export rendered from it (the CLI makes neither link)."""
    with app.in_this_process():
        member = _member(user)
        with session_scope() as session:
            project = projects.create_project(
                session=session, member=member, title=title, description="A timeline for the tests."
            )
            upload = exports.import_export(
                session=session, member=member, source=Path(clip), title=export_title, project_id=project.id
            )
            assert project.id is not None and upload.id is not None
            return {"project": project.id, "export": upload.id}
