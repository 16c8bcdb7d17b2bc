"""The command line: create members, import exports, backfill thumbnails, seed the demo, serve; honours the app's env
vars."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

from sqlmodel import Session, select

from exports_app.config import get_settings
from exports_app.db import reset_engine, session_scope, upgrade_to_head
from exports_app.models import Space, Upload, VideoProject
from exports_app.services import auth, exports, faults, posters, projects, publish
from exports_app.services.auth import Member
from exports_app.services.errors import ServiceError
from exports_app.services.faults import member_fault
from exports_app.transcode.clips import make_clip

DEMO_USER = "demo"
DEMO_SPACES = ("Website", "Newsletter")
DEMO_PROJECT = "Launch trailer"
# (title, seconds, width, height); the last demo export is deliberately corrupt.
DEMO_CLIPS = (("Launch trailer — final cut", 8.0, 1280, 720), ("Teaser (square)", 4.0, 480, 480))
CORRUPT_TITLE = "Broken render (corrupt)"


def _member(session: Session, username: str) -> Member:
    member = auth.find_member(session=session, username=username)
    if member is None:
        raise ServiceError(f"No user named {username!r}.")
    return member


def cmd_user_create(args: argparse.Namespace) -> int:
    with session_scope() as session:
        member = auth.create_user(session=session, username=args.name, password=args.password)
    print(f"created user {member.username} (id {member.id})")
    return 0


def cmd_export_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise ServiceError(f"No such file: {source}")
    with session_scope() as session:
        upload = exports.import_export(
            session=session, member=_member(session, args.user), source=source, title=args.title
        )
    print(upload.id)
    return 0


def cmd_space_create(args: argparse.Namespace) -> int:
    with session_scope() as session:
        space = publish.create_space(session=session, member=_member(session, args.user), name=args.name)
    print(space.id)
    return 0


def cmd_thumbnails_backfill(_: argparse.Namespace) -> int:
    """Poster frames for the exports imported before posters existed (the page also makes them on first view)."""
    with session_scope() as session:
        made, failed = posters.backfill(session=session)
    print(f"made {made} poster{'s' if made != 1 else ''}" + (f"; {failed} export(s) gave no frame" if failed else ""))
    return 0


def _demo_password() -> str:
    """The demo password: EXPORTS_DEMO_PASSWORD, else one made on first seed and kept in the data dir."""
    stored = get_settings().data_dir / "demo-password.txt"
    if os.environ.get("EXPORTS_DEMO_PASSWORD"):
        return os.environ["EXPORTS_DEMO_PASSWORD"]
    if stored.is_file():
        return stored.read_text().strip()
    password = secrets.token_urlsafe(9)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_text(password + "\n")
    stored.chmod(0o600)
    return password


def cmd_seed_demo(_: argparse.Namespace) -> int:
    """Idempotent: adds only what is missing; prints the demo password only on the run that creates the member.

    `make run` seeds on every start, so printing it each time would put it in every start's log. With less room
    than new work needs, it seeds nothing and says so in one line: the start goes on, and the app serves what it
    has (faults.ensure_room refuses only new uploads and preps).
    """
    short = faults.room_short()
    if short is not None:
        print(f"warning: demo seed skipped: {short}", file=sys.stderr)
        return 0
    password = _demo_password()
    with session_scope() as session:
        member = auth.find_member(session=session, username=DEMO_USER)
        created = member is None
        if member is None:
            member = auth.create_user(session=session, username=DEMO_USER, password=password)
        have_spaces = set(session.exec(select(Space.name).where(Space.user_id == member.id)))
        for name in DEMO_SPACES:
            if name not in have_spaces:
                publish.create_space(session=session, member=member, name=name)
        project = session.exec(
            select(VideoProject).where(VideoProject.user_id == member.id, VideoProject.title == DEMO_PROJECT)
        ).first()
        if project is None:
            project = projects.create_project(
                session=session,
                member=member,
                title=DEMO_PROJECT,
                description="Trailer timeline: intro, product shots, call to action.",
            )
        titles = set(session.exec(select(Upload.title).where(Upload.user_id == member.id)))
        with tempfile.TemporaryDirectory() as tmp:
            for title, seconds, width, height in DEMO_CLIPS:
                if title not in titles:
                    clip = make_clip(Path(tmp) / f"{width}x{height}.mp4", seconds, width, height)
                    exports.import_export(
                        session=session, member=member, source=clip, title=title, project_id=project.id
                    )
            if CORRUPT_TITLE not in titles:
                broken = Path(tmp) / "broken-render.mp4"
                broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + secrets.token_bytes(4096))
                exports.import_export(
                    session=session, member=member, source=broken, title=CORRUPT_TITLE, allow_undecodable=True
                )
    if created:
        print(f"demo member: {DEMO_USER}  password: {password}")
    else:
        print(
            f"demo member: {DEMO_USER}  (password printed when it was created; kept in the data dir as "
            "demo-password.txt)"
        )
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    """What `make run` runs (scripts/serve.sh): the migrations, the demo seed (unless EXPORTS_SKIP_SEED=1), then the
    server, in one process. Run as three commands, each imported the app again: about 3 s of CPU a start."""
    upgrade_to_head()
    if os.environ.get("EXPORTS_SKIP_SEED", "0") != "1":
        cmd_seed_demo(args)
    reset_engine()  # this process only starts the server from here on: it holds no connection
    return cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> int:
    """The app in production mode on one port, on a database already migrated (`start` migrates it first)."""
    from exports_app.frontend_bundle import serve

    serve(args.port, args.loglevel)
    return 0


def cmd_build_frontend(args: argparse.Namespace) -> int:
    """The frontend `serve` would serve, compiled and built into the web dir, without serving it."""
    from exports_app.frontend_bundle import build

    build(args.loglevel)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exports_app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    user = sub.add_parser("user", help="members").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create a member")
    create.add_argument("name")
    create.add_argument("--password", required=True)
    create.set_defaults(func=cmd_user_create)

    export = sub.add_parser("export", help="exports").add_subparsers(dest="action", required=True)
    imp = export.add_parser("import", help="import a video file as an export; prints its upload id")
    imp.add_argument("--user", required=True)
    imp.add_argument("file")
    imp.add_argument("--title")
    imp.set_defaults(func=cmd_export_import)

    space = sub.add_parser("space", help="spaces to publish to").add_subparsers(dest="action", required=True)
    space_create = space.add_parser("create", help="create a space for a member; prints its id")
    space_create.add_argument("--user", required=True)
    space_create.add_argument("name")
    space_create.set_defaults(func=cmd_space_create)

    thumbs = sub.add_parser("thumbnails", help="poster frames of exports").add_subparsers(dest="action", required=True)
    backfill = thumbs.add_parser("backfill", help="make the poster frames that existing exports lack")
    backfill.set_defaults(func=cmd_thumbnails_backfill)

    seed = sub.add_parser("seed-demo", help="create the demo member, spaces, project and exports")
    seed.set_defaults(func=cmd_seed_demo)

    for name, func, what in (
        ("serve", cmd_serve, "serve the app (`reflex run --env prod --single-port`, built only on change)"),
        ("start", cmd_start, "migrate, seed the demo (unless EXPORTS_SKIP_SEED=1) and serve: `make run`"),
    ):
        serving = sub.add_parser(name, help=what)
        serving.add_argument("--port", type=int, default=get_settings().port)
        serving.add_argument("--loglevel", default="warning")
        serving.set_defaults(func=func)
    built = sub.add_parser("build-frontend", help="compile and build the frontend `serve` serves, then end")
    built.add_argument("--loglevel", default="warning")
    built.set_defaults(func=cmd_build_frontend)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # a refusal or a server fault (full disk, database away): one line, no trace
        told = member_fault(exc)
        if told is None:
            raise
        print(f"error: {told.message}", file=sys.stderr)
        return 1
