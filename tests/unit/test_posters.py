"""Poster frames: made at import beside the upload, lazily for older exports, by the backfill; owner only."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import av
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from exports_app.cli import main
from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import Production, Upload
from exports_app.services import exports, media_files, posters, storage
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.transcode.poster import poster_jpeg
from exports_app.transcode.probe import NotAVideoError
from tests.support.api_client import sign_in
from tests.support.clips import make_clip
from tests.support.media import black_then_white
from tests.support.records import import_clip

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`

JPEG_MAGIC = b"\xff\xd8\xff"


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a baseline JPEG's SOF0 marker."""
    at = data.index(b"\xff\xc0")
    return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")


def upload_row(upload_id: int) -> Upload:
    with session_scope() as session:
        upload = session.get(Upload, upload_id)
        assert upload is not None
        return upload


def forget_poster(upload_id: int) -> Path:
    """Make the export look imported before posters existed; returns where its poster was."""
    upload = upload_row(upload_id)
    assert upload.poster_key is not None
    path = storage.path_for(upload.poster_key)
    path.unlink()
    with session_scope() as session:
        session.execute(sa.update(Upload).where(col(Upload.id) == upload_id).values(poster_key=None))
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4", seconds=2.0, width=1280, height=720)


def test_import_stores_a_jpeg_poster_beside_the_upload(data_dir: Path, alice: Member, clip: Path) -> None:
    upload = upload_row(import_clip(alice, clip))
    assert upload.poster_key == storage.beside(upload.storage_key, "poster.jpg")
    data = storage.path_for(upload.poster_key).read_bytes()
    assert data.startswith(JPEG_MAGIC)
    assert jpeg_size(data) == (640, 360)  # scaled to the poster width, aspect kept


def brightness(jpeg: bytes) -> float:
    """The mean luma of a JPEG still, 0 (black) to 255 (white)."""
    with av.open(io.BytesIO(jpeg), mode="r", format="mjpeg") as still:
        plane = next(still.decode(video=0)).planes[0]
    rows = bytes(plane)
    luma = b"".join(rows[row * plane.line_size : row * plane.line_size + plane.width] for row in range(plane.height))
    return sum(luma) / len(luma)


def test_poster_is_taken_about_ten_percent_in(tmp_path: Path) -> None:
    # 10 % of 4 s is 0.4 s: past a 0.2 s black opening (so not the first frame), inside a 0.6 s one.
    assert brightness(poster_jpeg(black_then_white(tmp_path / "short.mp4", 4.0, 0.2), width=64)) > 200
    assert brightness(poster_jpeg(black_then_white(tmp_path / "long.mp4", 4.0, 0.6), width=64)) < 50


def test_small_videos_are_never_upscaled(tmp_path: Path) -> None:
    assert jpeg_size(poster_jpeg(make_clip(tmp_path / "s.mp4", seconds=1.0, width=160, height=120))) == (160, 120)


def test_posters_pass_the_media_gate(tmp_path: Path) -> None:
    playlist = tmp_path / "list.mp4"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n")
    with pytest.raises(NotAVideoError):
        poster_jpeg(playlist)


def test_an_older_export_gets_its_poster_on_first_view(data_dir: Path, alice: Member, clip: Path) -> None:
    upload_id = import_clip(alice, clip)
    where = forget_poster(upload_id)
    with session_scope() as session:
        found = media_files.export_poster(session=session, member=alice, upload_id=upload_id)
    assert found.path == where and where.read_bytes().startswith(JPEG_MAGIC)
    assert upload_row(upload_id).poster_key is not None


def test_backfill_from_the_command_line(
    data_dir: Path, alice: Member, clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = import_clip(alice, clip), import_clip(alice, clip)
    paths = [forget_poster(first), forget_poster(second)]
    with session_scope() as session:
        # a third export, which has its poster already
        exports.import_export(session=session, member=alice, source=clip, allow_undecodable=True)
    assert main(["thumbnails", "backfill"]) == 0
    assert capsys.readouterr().out.strip() == "made 2 posters"
    assert all(p.is_file() for p in paths)
    assert main(["thumbnails", "backfill"]) == 0
    assert capsys.readouterr().out.strip() == "made 0 posters"


def test_a_corrupt_export_has_no_poster(data_dir: Path, alice: Member, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 4096)
    with session_scope() as session:
        upload = exports.import_export(session=session, member=alice, source=broken, allow_undecodable=True)
        assert upload.poster_key is None
        upload_id = upload.id
    with session_scope() as session, pytest.raises(NotFound):
        media_files.export_poster(session=session, member=alice, upload_id=upload_id)
    with session_scope() as session:
        assert posters.backfill(session=session) == (0, 1)


def test_posters_are_the_owners_only(data_dir: Path, alice: Member, bob: Member, clip: Path) -> None:
    upload_id = import_clip(alice, clip)
    with session_scope() as session:
        production = Production(user_id=alice.id, upload_id=upload_id)
        session.add(production)
        session.flush()
        production_id = production.id
    with session_scope() as session:
        found = media_files.production_poster(session=session, member=alice, production_id=production_id)
        assert found.path is not None
        with pytest.raises(NotFound):
            media_files.export_poster(session=session, member=bob, upload_id=upload_id)
        with pytest.raises(NotFound):
            media_files.production_poster(session=session, member=bob, production_id=production_id)


def test_a_mediaconvert_frame_capture_is_the_productions_poster(
    data_dir: Path, alice: Member, clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_id = import_clip(alice, clip)
    captured = {"s3://out/hls/1/2/poster.0000001.jpg": b"\xff\xd8 MediaConvert's capture"}

    def read_output(uri: str) -> bytes:
        if uri not in captured:
            raise FileNotFoundError(uri)
        return captured[uri]

    monkeypatch.setattr(media_files, "read_output", read_output)
    with session_scope() as session:
        made = [
            Production(user_id=alice.id, upload_id=upload_id, poster_uri=uri)
            for uri in ("s3://out/hls/1/2/poster.0000001.jpg", "s3://out/hls/3/4/poster.0000001.jpg")
        ]
        session.add_all(made)
        session.flush()
        found, missing = (
            media_files.production_poster(session=session, member=alice, production_id=p.id) for p in made
        )
    assert found.body == captured["s3://out/hls/1/2/poster.0000001.jpg"]
    # A job made before frame captures were asked for: the export's poster stands in.
    assert missing.path is not None and missing.path.read_bytes().startswith(JPEG_MAGIC)


def test_poster_route_sends_the_jpeg_to_its_owner_only(data_dir: Path, alice: Member, bob: Member, clip: Path) -> None:
    from exports_app.api.app import create_api

    upload_id = import_clip(alice, clip)
    owner = sign_in(TestClient(create_api(), base_url="http://testserver"), "alice")
    other = sign_in(TestClient(create_api(), base_url="http://testserver"), "bob")
    answer = owner.get(f"/media/posters/exports/{upload_id}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.content.startswith(JPEG_MAGIC) and answer.headers["cache-control"].startswith("private")
    assert other.get(f"/media/posters/exports/{upload_id}").status_code == 404
    assert TestClient(create_api()).get(f"/media/posters/exports/{upload_id}").status_code == 401


def test_purge_removes_the_poster_with_the_upload(data_dir: Path, alice: Member, clip: Path) -> None:
    upload_id = import_clip(alice, clip)
    upload = upload_row(upload_id)
    folder = storage.path_for(upload.storage_key).parent
    with session_scope() as session:
        exports.delete_export(session=session, member=alice, upload_id=upload_id)
        session.execute(
            sa.update(Upload).where(col(Upload.id) == upload_id).values(deleted_at=utcnow() - timedelta(days=31))
        )
    with session_scope() as session:
        assert exports.purge_deleted_files(session=session, older_than=timedelta(days=30)) == 1
    assert not folder.exists()
