"""The attacker suite's world: one app started as `make run` starts it, two members with exports, their sign-ins.

One app serves the whole suite (EXPORTS_MAX_UPLOAD_BYTES=5 MB, EXPORTS_REFRESH_SECONDS=1, same-origin by
default). Members and exports are made with the app's CLI, as an operator would; sign-in goes through
POST /api/auth/login. Every alice string an attacker could see carries ALICE_MARK, so a leak is unambiguous.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from exports_app.state.exports import ExportModalState
from exports_app.transcode.clips import make_clip
from tests.security import raw_http
from tests.support.app_process import RunningApp, start_app
from tests.support.socketio_client import EventSocket, handler_name, open_page

MAX_UPLOAD_BYTES = 5_000_000
APP_ENV = {"EXPORTS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES), "EXPORTS_REFRESH_SECONDS": "1"}
RUN = secrets.token_hex(4)
ALICE_MARK = f"AlicePrivate{RUN}"  # in every title and file name of alice's; never anywhere else
UPLOAD_HANDLER = handler_name(ExportModalState, "upload")
# Files the app rewrites on its own (database, log); everything else under the data dir must stay put.
_SELF_WRITTEN = re.compile(r"^(exports\.db.*|server\.log)$")


@dataclass
class Member:
    """A signed-in member: an httpx client holding the session and CSRF cookies."""

    name: str
    password: str
    id: int
    http: httpx.Client = field(repr=False)

    @property
    def cookie(self) -> str:
        """The Cookie header a browser of this member sends."""
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    @property
    def csrf(self) -> str:
        return self.http.cookies["csrf_token"]

    def prep(self, upload_id: int) -> httpx.Response:
        return self.http.post(f"/api/exports/{upload_id}/prep-hls", headers={"X-CSRF-Token": self.csrf})

    def status(self, upload_id: int) -> httpx.Response:
        return self.http.get(f"/api/exports/{upload_id}/hls-status")

    def wait_ready(self, upload_id: int, timeout: float = 90) -> int:
        """Wait for the export's production to be ready; returns the production id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(upload_id).json()
            if body["state"] == "ready":
                return int(body["productionId"])
            assert body["state"] != "failed", body
            time.sleep(0.3)
        raise AssertionError(f"export {upload_id} not ready after {timeout}s")


@dataclass
class World:
    """The app and what the suite made in it."""

    app: RunningApp
    alice: Member
    bob: Member
    alice_spare: httpx.Client  # a second session of alice's, for attacks that would end a session
    alice_exports: dict[str, int]  # role -> upload id; every title contains ALICE_MARK
    bob_export: int
    alice_production: int  # ready: playlists and segments exist
    bob_production: int  # ready
    clip: Path  # a real 1 s MP4 (160x120) with no alice string in it

    @property
    def url(self) -> str:
        return self.app.url

    @property
    def data_dir(self) -> Path:
        return self.app.data_dir


def sign_in(app: RunningApp, name: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=app.url, timeout=30)
    answer = client.post("/api/auth/login", json={"username": name, "password": password})
    assert answer.status_code == 200, answer.text
    return client


def create_member(app: RunningApp, name: str) -> Member:
    password = f"pw-{name}-{secrets.token_hex(6)}"
    made = app.cli("user", "create", name, "--password", password)
    made_id = re.search(r"\(id (\d+)\)", made)
    assert made_id is not None, made
    member_id = int(made_id.group(1))
    return Member(name, password, member_id, sign_in(app, name, password))


def data_files(app: RunningApp) -> dict[str, int]:
    """Every file under the data dir (relative path -> size), except the database and log the app keeps writing."""
    return {
        str(p.relative_to(app.data_dir)): p.stat().st_size
        for p in app.data_dir.rglob("*")
        if p.is_file() and not _SELF_WRITTEN.match(p.name)
    }


def upload_rows(app: RunningApp) -> int:
    """How many upload rows exist (deleted or not), read from the app's SQLite file."""
    with sqlite3.connect(f"file:{app.data_dir / 'exports.db'}?mode=ro", uri=True, timeout=10) as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def stored_uploads(app: RunningApp) -> list[str]:
    """The stored upload files (paths relative to uploads/)."""
    root = app.data_dir / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def post_upload(
    world: World,
    token: str,
    filename: str,
    content: bytes,
    *,
    cookie: str | None,
    origin: str | None = None,
    content_type: str = "video/mp4",
) -> raw_http.RawResponse | None:
    """POST /_upload as the page's upload control does (plus the CSRF header, which costs an attacker nothing)."""
    form_type, body = raw_http.multipart([(filename, content, content_type)])
    headers = {
        "Reflex-Client-Token": token,
        "Reflex-Event-Handler": UPLOAD_HANDLER,
        "Content-Type": form_type,
        "Origin": origin or world.url,
    }
    if cookie:
        headers["Cookie"] = cookie
        csrf = re.search(r"csrf_token=([^;]+)", cookie)
        assert csrf is not None, "a signed-in cookie carries its CSRF token"
        headers["X-CSRF-Token"] = csrf.group(1)
    return raw_http.request(world.url, "POST", "/_upload", headers=headers, body=body, timeout=60)


@pytest.fixture(scope="session")
def security_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    app = start_app(tmp_path_factory.mktemp("security-data"), APP_ENV)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="session")
def world(security_app: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> World:
    app = security_app
    clips = tmp_path_factory.mktemp("security-clips")
    alice_clip = make_clip(clips / f"{ALICE_MARK}-clip.mp4", seconds=1.0, width=160, height=120)
    clip = make_clip(clips / "clip.mp4", seconds=1.0, width=160, height=120)
    alice, bob = create_member(app, "alice"), create_member(app, "bob")
    alice_exports = {
        role: int(
            app.cli(
                "export",
                "import",
                "--user",
                "alice",
                str(alice_clip),
                "--title",
                f"{ALICE_MARK} {role} {secrets.token_hex(3)}",
            )
        )
        for role in ("hijack", "hijack-signed-in", "victim", "cors-target", "ready")
    }
    bob_export = int(app.cli("export", "import", "--user", "bob", str(clip), "--title", "Bob's cut"))
    for member, upload_id in ((alice, alice_exports["ready"]), (bob, bob_export)):
        assert member.prep(upload_id).status_code == 200
    return World(
        app=app,
        alice=alice,
        bob=bob,
        alice_spare=sign_in(app, "alice", alice.password),
        alice_exports=alice_exports,
        bob_export=bob_export,
        alice_production=alice.wait_ready(alice_exports["ready"]),
        bob_production=bob.wait_ready(bob_export),
        clip=clip,
    )


@pytest.fixture
def alice_tab(world: World) -> Iterator[EventSocket]:
    """Alice's /exports open in a tab (her own session and a fresh client token), her list loaded."""
    tab = open_page(world.url, str(uuid.uuid4()), "/exports", cookie=world.alice.cookie)
    try:
        assert tab.wait_for(ALICE_MARK, timeout=20), f"alice's own tab never got her list: {tab}"
        yield tab
    finally:
        tab.close()
