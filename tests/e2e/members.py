"""The e2e app's members and what tests set up behind the pages: the passwords they sign in with, and exports in
each state, made through the app's services."""

from __future__ import annotations

import json

from tests.support.app_process import RunningApp

DEMO_PASSWORD = "demo-password-e2e"  # the seeded demo member's, on the e2e session's app
MEMBER_PASSWORD = "correct horse battery"  # every member a test creates with the CLI

_SETUP = """
import json, secrets, sys, tempfile
from pathlib import Path
from exports_app.db import session_scope
from exports_app.services import auth, exports, productions, projects
args = json.loads(sys.argv[1])
with session_scope() as session:
    member = auth.find_member(session=session, username=args["user"])
    if args["kind"] == "corrupt":
        # The demo seed's way: a video container's header over random bytes, refused by ffmpeg at once.
        with tempfile.TemporaryDirectory() as tmp:
            broken = Path(tmp) / "broken.mp4"
            broken.write_bytes(b"\\x00\\x00\\x00\\x18ftypmp42" + secrets.token_bytes(4096))
            upload = exports.import_export(session=session, member=member, source=broken, title=args["title"],
                                           allow_undecodable=True)
        print(upload.id)
    elif args["kind"] == "prep":
        print(productions.prep_hls(session=session, member=member, upload_id=args["upload"],
                                   provider=args["provider"]).production_id)
    elif args["kind"] == "project":
        project = projects.create_project(session=session, member=member, title=args["title"],
                                          description="A timeline for the tests.")
        upload = exports.import_export(session=session, member=member, source=Path(args["clip"]),
                                       title=args["export"], project_id=project.id)
        print(json.dumps({"project": project.id, "export": upload.id}))
"""


def _run(app: RunningApp, **args: object) -> str:
    return app.python(_SETUP.replace("sys.argv[1]", repr(json.dumps(args))))


def corrupt_export(app: RunningApp, user: str, title: str) -> str:
    """An export whose file ffmpeg refuses at once (as the demo's "Broken render"): its prep fails."""
    return _run(app, kind="corrupt", user=user, title=title)


def queue_prep(app: RunningApp, user: str, upload_id: str, provider: str = "local") -> str:
    """Prep an export as its Prep button does; returns the production id.

    provider "mediaconvert" on an app running the local transcoder leaves the job queued for good (the
    refresh tick only takes its own provider's jobs): an export held In progress, without racing ffmpeg.
    """
    return _run(app, kind="prep", user=user, upload=int(upload_id), provider=provider)


def project_with_export(app: RunningApp, user: str, title: str, clip: str, export_title: str) -> dict[str, int]:
    """A timeline project of the member and an export rendered from it (the CLI makes neither link)."""
    ids: dict[str, int] = json.loads(_run(app, kind="project", user=user, title=title, clip=clip, export=export_title))
    return ids
