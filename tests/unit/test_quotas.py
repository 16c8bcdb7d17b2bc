"""Per-member quotas (services/quotas.py): spaces, exports kept and made per hour, sign-in sessions. Each is counted
under the member's lock, so creates at once never pass it; the upload guard refuses an upload over it before its
body, and the words say what was reached."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from exports_app import config as app_config
from exports_app.api.guard import Guard
from exports_app.cli import main
from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import Upload
from exports_app.services import auth, exports, publish, storage
from exports_app.services.auth import Member
from exports_app.services.errors import LimitReached
from tests.support.clips import make_clip
from tests.support.records import import_clip

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`

Caps = Callable[..., None]


@pytest.fixture
def caps(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Caps]:
    """Set quota settings by name (max_spaces_per_member=3, …), as their EXPORTS_* variables would."""

    def set_caps(**values: int) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"EXPORTS_{name.upper()}", str(value))
        app_config.get_settings.cache_clear()

    yield set_caps
    app_config.get_settings.cache_clear()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4", seconds=1.0, width=160, height=120)


def stored_files() -> list[Path]:
    """Every file the imports stored (uploads/<member>/<random>/…: the video and its poster)."""
    return sorted(p for p in (app_config.get_settings().data_dir / "uploads").rglob("*") if p.is_file())


def make_space(member: Member, name: str) -> int:
    with session_scope() as session:
        space = publish.create_space(session=session, member=member, name=name)
        assert space.id is not None
        return space.id


def spaces_of(member: Member) -> int:
    with session_scope() as session:
        return publish.count_spaces(session=session, member=member)


def test_a_member_has_at_most_the_spaces_cap(caps: Caps, alice: Member, bob: Member) -> None:
    caps(max_spaces_per_member=3)
    for n in range(3):
        make_space(alice, f"Space {n}")
    with pytest.raises(LimitReached) as refused:
        make_space(alice, "One more")
    assert refused.value.message == "You have 3 spaces, the most a member can have."
    assert refused.value.retry_after is None  # only a space of the member's own going frees one
    assert spaces_of(alice) == 3
    make_space(bob, "Bob's own")  # a cap per member, not in all


def test_spaces_made_at_once_never_pass_the_cap(caps: Caps, alice: Member) -> None:
    caps(max_spaces_per_member=3)
    make_space(alice, "First")

    def attempt(n: int) -> bool:
        try:
            make_space(alice, f"At once {n}")
        except LimitReached:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        made = sum(pool.map(attempt, range(8)))
    assert (made, spaces_of(alice)) == (2, 3)


def test_a_member_keeps_at_most_the_exports_cap(caps: Caps, alice: Member, clip: Path) -> None:
    caps(max_exports_per_member=2, max_exports_per_hour=100)
    first, _ = import_clip(alice, clip), import_clip(alice, clip)
    files = stored_files()
    with pytest.raises(LimitReached) as refused:
        import_clip(alice, clip)
    assert refused.value.message == "You have 2 exports, the most a member can have. Delete one to add another."
    assert refused.value.retry_after is None
    assert stored_files() == files  # refused before anything was stored
    with session_scope() as session:
        exports.delete_export(session=session, member=alice, upload_id=first)
    import_clip(alice, clip)  # a deleted export no longer counts


def test_a_member_makes_at_most_the_hourly_cap_of_exports(caps: Caps, alice: Member, clip: Path) -> None:
    caps(max_exports_per_member=100, max_exports_per_hour=2)
    older, newer = import_clip(alice, clip), import_clip(alice, clip)
    with session_scope() as session:  # deleting gives no upload of the hour back
        for upload_id in (older, newer):
            exports.delete_export(session=session, member=alice, upload_id=upload_id)
    with pytest.raises(LimitReached) as refused:
        import_clip(alice, clip)
    assert refused.value.message == (
        "You have uploaded 2 videos in the last hour, the most a member can. Try again in 60 minutes."
    )
    assert refused.value.retry_after is not None and 3500 < refused.value.retry_after <= 3600
    backdate(older, minutes=50)  # the hour is full until the older of the two is an hour old
    with pytest.raises(LimitReached, match="Try again in 10 minutes."):
        import_clip(alice, clip)
    backdate(older, minutes=61)
    import_clip(alice, clip)


def backdate(upload_id: int, *, minutes: int) -> None:
    with session_scope() as session:
        when = utcnow() - timedelta(minutes=minutes)
        session.execute(sa.update(Upload).where(col(Upload.id) == upload_id).values(created_at=when))


def test_imports_at_once_never_pass_the_cap(
    caps: Caps, alice: Member, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two imports that both passed the first count (before their probe) and stored their file: the count under
    the member's lock lets one in, and the other's file is removed."""
    caps(max_exports_per_member=2, max_exports_per_hour=100)
    import_clip(alice, clip)
    both_stored = threading.Barrier(2)
    real_store = storage.store_file

    def store_then_wait(*args: object, **kwargs: object) -> tuple[str, int]:
        stored = real_store(*args, **kwargs)  # type: ignore[arg-type]
        both_stored.wait(timeout=60)
        return stored

    monkeypatch.setattr(storage, "store_file", store_then_wait)

    def attempt(_: int) -> str:
        try:
            import_clip(alice, clip)
        except LimitReached as exc:
            return exc.message
        return "imported"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(attempt, range(2)))
    assert outcomes == [
        "You have 2 exports, the most a member can have. Delete one to add another.",
        "imported",
    ]
    with session_scope() as session:
        assert exports.count_exports(session=session, member=alice) == 2
    assert len(stored_files()) == 4  # two exports, each with its poster: the refused one's file is gone


def test_a_new_sign_in_ends_the_oldest_session_beyond_the_cap(caps: Caps, alice: Member) -> None:
    caps(max_sessions_per_member=3)
    with session_scope() as session:
        tokens = [auth.start_session(session=session, member=alice, days=1).token for _ in range(3)]
    with session_scope() as session:
        auth.end_session(session=session, token=tokens[1])  # signed out: no longer one of the three
        tokens += [auth.start_session(session=session, member=alice, days=1).token for _ in range(2)]
    with session_scope() as session:
        live = [auth.member_for_token(session=session, token=t) is not None for t in tokens]
    assert live == [False, False, True, True, True]  # the newest three; the oldest ended by the last sign-in


def test_sign_ins_at_once_keep_at_most_the_cap(caps: Caps, alice: Member) -> None:
    caps(max_sessions_per_member=2)

    def sign_in(_: int) -> str:
        with session_scope() as session:
            return auth.start_session(session=session, member=alice, days=1).token

    with ThreadPoolExecutor(6) as pool:
        tokens = list(pool.map(sign_in, range(6)))
    with session_scope() as session:
        assert sum(auth.member_for_token(session=session, token=t) is not None for t in tokens) == 2


TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
HANDLER = "state.export_modal_state.upload"


@pytest.fixture
def uploads_reached(data_dir: Path) -> list[int]:
    """The body bytes each upload that got past the guard carried to the app."""
    return []


def guarded_upload(member: Member, reached: list[int]) -> TestClient:
    """The guard in front of a stand-in upload route, with a signed-in cookie of member's on its tab."""

    async def upload(request: Request) -> JSONResponse:
        reached.append(len(await request.body()))
        return JSONResponse({"ok": True})

    async def owner(tab: str) -> str | None:
        return f"member-{member.id}" if tab == TAB else None

    guard = Guard(
        Starlette(routes=[Route("/_upload", upload, methods=["POST"])]),
        upload_handlers=frozenset({HANDLER}),
        tab_owner=owner,
        member_key=lambda member_id: f"member-{member_id}",
    )
    client = TestClient(guard, base_url="http://testserver")
    with session_scope() as session:
        client.cookies[auth.SESSION_COOKIE] = auth.start_session(session=session, member=member, days=1).token
    return client


def test_the_guard_refuses_an_upload_over_the_hourly_cap_before_its_body(
    caps: Caps, alice: Member, clip: Path, uploads_reached: list[int]
) -> None:
    caps(max_exports_per_member=100, max_exports_per_hour=1)
    client = guarded_upload(alice, uploads_reached)
    headers = {"Reflex-Client-Token": TAB, "Reflex-Event-Handler": HANDLER}
    assert client.post("/_upload", content=b"x" * 1000, headers=headers).status_code == 200  # under the cap
    import_clip(alice, clip)
    refused = client.post("/_upload", content=b"x" * 100_000, headers=headers)
    assert refused.status_code == 429 and 3500 < int(refused.headers["retry-after"]) <= 3600
    assert refused.json() == {
        "error": "You have uploaded 1 video in the last hour, the most a member can. Try again in 60 minutes."
    }
    assert uploads_reached == [1000]  # the refused body never reached the app


def test_the_guard_refuses_an_upload_over_the_kept_cap_with_409(
    caps: Caps, alice: Member, bob: Member, clip: Path, uploads_reached: list[int]
) -> None:
    caps(max_exports_per_member=1, max_exports_per_hour=100)
    import_clip(alice, clip)
    headers = {"Reflex-Client-Token": TAB, "Reflex-Event-Handler": HANDLER}
    refused = guarded_upload(alice, uploads_reached).post("/_upload", content=b"x" * 100_000, headers=headers)
    assert refused.status_code == 409 and "retry-after" not in refused.headers
    assert refused.json() == {"error": "You have 1 export, the most a member can have. Delete one to add another."}
    assert guarded_upload(bob, uploads_reached).post("/_upload", content=b"y", headers=headers).status_code == 200
    assert uploads_reached == [1]


def test_the_command_line_meets_the_same_caps(
    caps: Caps, alice: Member, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    caps(max_exports_per_hour=1, max_spaces_per_member=1)
    assert main(["export", "import", "--user", alice.username, str(clip)]) == 0
    assert main(["export", "import", "--user", alice.username, str(clip)]) == 1
    assert main(["space", "create", "--user", alice.username, "Website"]) == 0
    assert main(["space", "create", "--user", alice.username, "Newsletter"]) == 1
    told = capsys.readouterr().err
    assert "You have uploaded 1 video in the last hour, the most a member can. Try again in 60 minutes." in told
    assert "You have 1 space, the most a member can have." in told
