"""The e2e app's members and what tests set up behind the pages: the passwords they sign in with, and exports in
each state, made through the app's services (in this process, on the app's database: RunningApp.in_this_process)."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from exports_app.db import session_scope
from exports_app.services import auth, exports, productions, projects
from exports_app.services.auth import Member
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
