"""Crafted media that would make the server do unbounded work is refused at the gate, from its headers.

The attacks of the report: a pixel bomb (a small MP4 whose frame is huge: the server's memory rose 740 MB while
it was probed) and a gap bomb (51 frames, the last stamped hours later: 3,334 segments of copies). Each is
tried through the CLI import and through `/_upload` as alice's page sends it; each must be refused with one
line, store nothing, and the probe of the pixel bomb must stay under a stated memory bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.refusals import run_cli, upload_refused
from tests.security.world import World, post_upload, stored_uploads, upload_rows
from tests.support.media_bombs import make_bombs
from tests.support.socketio_client import EventSocket

pytestmark = pytest.mark.e2e

# A decoded 8192x4400 frame alone is 54 MB; refusing it from the headers costs the app a few MB at most.
PROBE_MEMORY_LIMIT = 40 * 1024 * 1024
SAYS = {
    "wide": "the video is 16000x16",
    "pixels": "the video is 8192x4400",
    "gap": "too few frames",
    "long-gap": "longer than 4 hours",
}


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bombs(tmp_path_factory.mktemp("media-bombs"))


@pytest.mark.parametrize("kind", SAYS)
def test_cli_import_refuses_media_bombs(world: World, bombs: dict[str, Path], kind: str) -> None:
    rows, files = upload_rows(world.app), stored_uploads(world.app)
    done = run_cli(world, "export", "import", "--user", world.alice.name, str(bombs[kind]), "--title", f"bomb {kind}")
    assert done.returncode != 0, f"the CLI imported the {kind} bomb as upload {done.stdout.strip()}"
    said = done.stderr.strip().splitlines()
    assert len(said) == 1 and SAYS[kind] in said[0], f"not one clear line: {done.stderr.strip()}"
    assert upload_rows(world.app) == rows and stored_uploads(world.app) == files


@pytest.mark.parametrize("kind", SAYS)
def test_web_upload_refuses_media_bombs_within_a_memory_bound(
    world: World, bombs: dict[str, Path], alice_tab: EventSocket, kind: str
) -> None:
    rows, files = upload_rows(world.app), stored_uploads(world.app)
    since = len(alice_tab.frames)
    world.app.reset_peaks()
    held = world.app.rss_bytes()
    answer = post_upload(world, alice_tab.token, bombs[kind].name, bombs[kind].read_bytes(), cookie=world.alice.cookie)
    refused, said = upload_refused(answer, alice_tab, since)
    grew = world.app.peak_bytes() - held
    new_files = sorted(set(stored_uploads(world.app)) - set(files))
    assert new_files == [] and upload_rows(world.app) == rows, f"the {kind} bomb was stored: {new_files} ({said})"
    assert refused and SAYS[kind] in said, f"refusal does not say {SAYS[kind]!r}: {said!r}"
    assert grew < PROBE_MEMORY_LIMIT, f"the app grew {grew / 2**20:.0f} MB while refusing the {kind} bomb"
