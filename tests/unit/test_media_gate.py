"""The media gate: only MP4/MOV/M4V and Matroska/WebM by content; nothing inside a file is followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from exports_app.services import exports
from exports_app.services.auth import Member
from exports_app.services.errors import Invalid
from exports_app.transcode.hls_encode import build_ladder_command
from exports_app.transcode.ladder import choose_renditions
from exports_app.transcode.probe import NotAVideoError, probe_video
from tests.support.clips import make_clip
from tests.support.media import run_ffmpeg


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("gate")
    mp4 = make_clip(work / "clip.mp4", seconds=1.0, width=160, height=120)

    run_ffmpeg("-i", str(mp4), "-c", "copy", str(work / "clip.mkv"))
    run_ffmpeg("-i", str(mp4), "-c:v", "libvpx-vp9", "-an", "-t", "0.5", str(work / "clip.webm"))
    run_ffmpeg("-i", str(mp4), "-c", "copy", "-f", "mov", str(work / "clip.mov"))
    run_ffmpeg("-i", str(mp4), "-c", "copy", "-f", "mpegts", str(work / "clip.ts"))
    run_ffmpeg("-i", str(mp4), "-an", "-c:v", "copy", "-f", "h264", str(work / "raw.h264"))
    raw = (work / "raw.h264").read_bytes()
    secret = work / "other-member-segment.ts"
    secret.write_bytes((work / "clip.ts").read_bytes())
    (work / "disguised.m3u8").write_bytes(
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n" + str(secret).encode() + b"\n#EXT-X-ENDLIST\n" + raw
    )
    (work / "concat.txt").write_bytes(b"ffconcat version 1.0\nfile '" + str(secret).encode() + b"'\n" + raw)
    (work / "plain.m3u8").write_bytes(b"#EXTM3U\n#EXTINF:2.0,\n" + str(secret).encode() + b"\n#EXT-X-ENDLIST\n")
    return {p.name: p for p in work.iterdir()}


@pytest.mark.parametrize(
    ("name", "container"),
    [("clip.mp4", "mov"), ("clip.mov", "mov"), ("clip.mkv", "matroska"), ("clip.webm", "matroska")],
)
def test_video_containers_pass(media: dict[str, Path], name: str, container: str) -> None:
    assert probe_video(media[name]).container == container


@pytest.mark.parametrize("name", ["disguised.m3u8", "concat.txt", "plain.m3u8", "raw.h264", "clip.ts"])
def test_everything_else_is_refused_by_content(media: dict[str, Path], name: str, tmp_path: Path) -> None:
    with pytest.raises(NotAVideoError, match="only MP4, MOV, M4V, MKV and WebM"):
        probe_video(media[name])
    renamed = tmp_path / "looks-fine.mp4"  # the name never decides
    renamed.write_bytes(media[name].read_bytes())
    with pytest.raises(NotAVideoError):
        probe_video(renamed)


def test_import_refuses_playlists_and_stores_nothing(data_dir: Path, alice: Member, media: dict[str, Path]) -> None:
    from exports_app.db import session_scope

    for name in ("disguised.m3u8", "concat.txt", "plain.m3u8"):
        with pytest.raises(Invalid, match="Not a supported video"):
            with session_scope() as session:
                exports.import_export(session=session, member=alice, source=media[name])
    assert not (data_dir / "uploads").exists() or not any((data_dir / "uploads").rglob("*.*"))


def test_stored_names_are_chosen_by_the_server(
    data_dir: Path, alice: Member, media: dict[str, Path], tmp_path: Path
) -> None:
    from exports_app.db import session_scope

    sneaky = tmp_path / "clip.m3u8"
    sneaky.write_bytes(media["clip.mp4"].read_bytes())
    with session_scope() as session:
        upload = exports.import_export(session=session, member=alice, source=sneaky, filename="../../evil.m3u8")
        key, filename = upload.storage_key, upload.filename
    assert key.endswith("/source.mp4") and filename == "evil.m3u8"
    with session_scope() as session:
        mkv = exports.import_export(session=session, member=alice, source=media["clip.webm"])
        assert mkv.storage_key.endswith("/source.mkv")


@pytest.mark.parametrize(("name", "drefs"), [("clip.mp4", True), ("clip.webm", False), ("clip.mkv", False)])
def test_ffmpeg_reads_with_the_probed_demuxer_and_the_file_protocol_only(
    media: dict[str, Path], tmp_path: Path, name: str, drefs: bool
) -> None:
    """-enable_drefs is the MOV demuxer's own option: ffmpeg refuses it for Matroska ("Option not found")."""
    probe = probe_video(media[name])
    cmd = build_ladder_command("ffmpeg", media[name], tmp_path, choose_renditions(probe.width, probe.height), probe)
    i = cmd.index("-i")
    before = cmd[:i]
    assert before[before.index("-protocol_whitelist") + 1] == "file"
    assert before[before.index("-f") + 1] == probe.container
    assert ("-enable_drefs" in before) == drefs
    if drefs:
        assert before[before.index("-enable_drefs") + 1] == "0"
    assert cmd[i + 1] == f"file:{media[name]}"


def test_error_details_name_no_server_paths(tmp_path: Path) -> None:
    broken = tmp_path / "secret-dir" / "broken.mp4"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 4096)
    with pytest.raises(NotAVideoError) as caught:
        probe_video(broken)
    assert "secret-dir" not in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_a_planted_playlist_fails_its_transcode_without_reading_anything(
    media: dict[str, Path], tmp_path: Path
) -> None:
    """A stored file that is a playlist (e.g. from before the gate) fails at the transcoder's own probe."""
    import time

    from exports_app.domain import JobStatus
    from exports_app.transcode.base import JobRequest, PendingJob
    from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder

    request = JobRequest(1, 1, 1, "t", media["disguised.m3u8"], 2.0, 120)
    transcoder = LocalFfmpegTranscoder(tmp_path / "hls")
    try:
        transcoder.submit(request)
        pending = [PendingJob(request, "local-1", JobStatus.SUBMITTED)]
        deadline = time.monotonic() + 60
        while not (report := transcoder.poll(pending)[0]).status.terminal and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        transcoder.close()
    assert report.status is JobStatus.FAILED and report.error_code == "input_invalid"
    assert "only mp4, mov, m4v, mkv and webm" in (report.error_message or "").lower()
    assert not (tmp_path / "hls" / "1").exists()
