"""Media input allowlist: only MP4/MOV/M4V and Matroska/WebM, decided by content; no reference inside a file is
ever followed; stored files get server-chosen names.

The hostile files point at bob's real HLS segment (his export is ready), so a probe or an ffmpeg that follows
the reference would read another member's video into alice's export. Each is tried through the CLI import and
through `/_upload` as alice's page sends it; each must be refused ("not a supported video") with nothing stored.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from exports_app.transcode.ffmpeg import ffmpeg_exe
from tests.security.refusals import REFUSAL, run_cli, upload_refused
from tests.security.world import World, post_upload, stored_uploads, upload_rows
from tests.support.socketio_client import EventSocket

pytestmark = pytest.mark.e2e

KINDS = ["disguised-playlist", "ffconcat-list", "plain-playlist"]


def playlist(segment: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{segment}\n#EXT-X-ENDLIST\n".encode()


@pytest.fixture(scope="module")
def hostile_files(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """kind -> file: a playlist disguised by raw H.264 after it, an ffconcat list likewise, a plain playlist."""
    work = tmp_path_factory.mktemp("hostile-media")
    bob_segment = world.data_dir / "hls" / str(world.bob_production) / "v0" / "seg000.ts"
    assert bob_segment.is_file(), "precondition: bob's production has a segment to point at"
    raw = work / "raw.h264"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-i",
            str(world.clip),
            "-map",
            "0:v",
            "-c:v",
            "copy",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "h264",
            str(raw),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    h264 = raw.read_bytes()
    files = {
        # As stored under uploads/<member>/<dir>/, this relative reference lands on bob's segment.
        "disguised-playlist": ("evil.m3u8", playlist(f"../../../hls/{world.bob_production}/v0/seg000.ts") + h264),
        "ffconcat-list": ("render.mp4", f"ffconcat version 1.0\nfile '{bob_segment}'\n".encode() + h264),
        "plain-playlist": ("plain.m3u8", playlist(str(bob_segment))),
    }
    paths = {}
    for kind, (name, content) in files.items():
        (work / kind).mkdir()
        paths[kind] = work / kind / name
        paths[kind].write_bytes(content)
    return paths


@pytest.mark.parametrize("kind", KINDS)
def test_cli_import_refuses_hostile_media(world: World, hostile_files: dict[str, Path], kind: str) -> None:
    rows, files = upload_rows(world.app), stored_uploads(world.app)
    done = run_cli(
        world, "export", "import", "--user", world.alice.name, str(hostile_files[kind]), "--title", f"hostile {kind}"
    )
    assert done.returncode != 0, f"the CLI imported the {kind} as upload {done.stdout.strip()}"
    assert REFUSAL in done.stderr.lower(), f"refusal does not say {REFUSAL!r}: {done.stderr.strip()}"
    assert upload_rows(world.app) == rows and stored_uploads(world.app) == files


@pytest.mark.parametrize("kind", KINDS)
def test_web_upload_refuses_hostile_media(
    world: World, hostile_files: dict[str, Path], alice_tab: EventSocket, kind: str
) -> None:
    rows, files = upload_rows(world.app), stored_uploads(world.app)
    path = hostile_files[kind]
    since = len(alice_tab.frames)
    refused, said = upload_refused(
        post_upload(world, alice_tab.token, path.name, path.read_bytes(), cookie=world.alice.cookie), alice_tab, since
    )
    new_files = sorted(set(stored_uploads(world.app)) - set(files))
    assert new_files == [] and upload_rows(world.app) == rows, f"the {kind} was stored: {new_files} ({said})"
    assert refused, f"refusal does not say {REFUSAL!r}: {said!r}"


@pytest.mark.parametrize("channel", ["cli", "web"])
def test_mp4_named_m3u8_is_not_stored_as_a_playlist(
    world: World, tmp_path: Path, alice_tab: EventSocket, channel: str
) -> None:
    files = set(stored_uploads(world.app))
    disguised = tmp_path / "clip.m3u8"
    disguised.write_bytes(world.clip.read_bytes())
    if channel == "cli":
        run_cli(world, "export", "import", "--user", world.alice.name, str(disguised), "--title", "mp4 as m3u8")
    else:
        since = len(alice_tab.frames)
        upload_refused(
            post_upload(world, alice_tab.token, disguised.name, disguised.read_bytes(), cookie=world.alice.cookie),
            alice_tab,
            since,
        )
    new_files = sorted(set(stored_uploads(world.app)) - files)
    named_m3u8 = [name for name in new_files if name.lower().endswith(".m3u8")]
    assert named_m3u8 == [], f"stored under the client's name: {named_m3u8}"
