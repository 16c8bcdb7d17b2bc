"""The attacker suite's world: one app started as `make run` starts it, two members with exports, their sign-ins.

One app serves the whole suite (EXPORTS_MAX_UPLOAD_BYTES=5 MB, EXPORTS_REFRESH_SECONDS=1, metrics on with
METRICS_TOKEN, uploads that stop moving cut after UPLOAD_CUT_SECONDS, same-origin by default). Members and
exports are made with the app's CLI, as an operator would; sign-in goes through POST /api/auth/login. Every alice
string an attacker could see carries ALICE_MARK, so a leak is unambiguous.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from exports_app.state.exports import ExportModalState
from tests.security import raw_http
from tests.support.app_process import RunningApp
from tests.support.http import app_client
from tests.support.socketio_client import handler_name

MAX_UPLOAD_BYTES = 5_000_000
UPLOAD_CUT_SECONDS = 6  # EXPORTS_UPLOAD_IDLE_SECONDS and EXPORTS_UPLOAD_RATE_WINDOW_SECONDS
MAX_SPACES, MAX_EXPORTS_PER_HOUR = 12, 30
# Live tabs without a session per address: the suite's own anonymous tabs are one or two at a time, and the cap's
# test opens this many and 3 more, about one a second (at the default 50 it took a minute).
MAX_ANONYMOUS_TABS = 12
METRICS_TOKEN = f"operator-{secrets.token_hex(16)}"  # /metrics on, and /readyz's details, as an operator has them
APP_ENV = {
    "EXPORTS_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    "EXPORTS_REFRESH_SECONDS": "1",
    "EXPORTS_METRICS_TOKEN": METRICS_TOKEN,
    # An upload that stops moving is cut after seconds, not the default 30 and 60, so a test sees it happen: far
    # longer than any other test leaves an upload quiet, and 1,000 B/s is far below a local upload's pace.
    "EXPORTS_UPLOAD_IDLE_SECONDS": str(UPLOAD_CUT_SECONDS),
    "EXPORTS_UPLOAD_RATE_WINDOW_SECONDS": str(UPLOAD_CUT_SECONDS),
    "EXPORTS_UPLOAD_MIN_RATE": "1000",
    # Quotas low enough that a test reaches them in seconds (test_row_quotas, with a member of its own), far above
    # what the other tests make: alice's exports of the hour number about ten, and no one else makes spaces.
    "EXPORTS_MAX_SPACES_PER_MEMBER": str(MAX_SPACES),
    "EXPORTS_MAX_TABS_PER_ADDRESS": str(MAX_ANONYMOUS_TABS),
    "EXPORTS_MAX_EXPORTS_PER_HOUR": str(MAX_EXPORTS_PER_HOUR),
}
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
    client = app_client(base_url=app.url, timeout=30)
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
