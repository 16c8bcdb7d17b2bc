"""Every conformance master plays in Chromium with hls.js (the version the app ships), across a forced level switch.

One page on a local HTTP server that serves the outputs and hls.js: for each master, hls.js starts on the first
variant (the one near 2 Mbit/s), then is switched to the smallest; the test waits until the video element shows
the new variant's frame size and the clock has moved, with no fatal hls.js error. A production made in two passes
plays before its HD pass is merged into its master and after: a new load of the same master gets every variant.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import m3u8
import pytest
from playwright.sync_api import Page, Playwright

from exports_app.transcode.base import JobReport
from tests.hls.sources import SOURCES
from tests.support.app_process import CHROMIUM, CHROMIUM_ARGS
from tests.support.paths import ROOT
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e

PAGE = """<!doctype html><html><body><video id="v" muted playsinline></video>
<script src="/hls.min.js"></script></body></html>"""
# Plays src to its end and leaves what happened in window.played: hls.js starts on level 0 (the variant near
# 2 Mbit/s); once level 0 plays it is switched to the last (smallest) level and played again from the start.
# Which levels' fragments were buffered, the frame sizes the element painted or took on, and any hls.js errors
# are recorded.
PLAY = """(src) => {
  window.played = undefined;
  window.levels = undefined;
  const video = document.getElementById('v');
  const hls = new Hls({startLevel: 0, capLevelToPlayerSize: false});
  const seen = {buffered: [], sizes: [], errors: [], switchedTo: null};
  const finish = (ok) => { const time = video.currentTime; hls.destroy(); window.played = {...seen, ok, time}; };
  hls.on(Hls.Events.ERROR, (_, d) => { seen.errors.push(d.details); if (d.fatal) finish(false); });
  // The switch to the last (smallest) level comes once level 0 is buffered, playing, and has shown its size: on a
  // busy machine 'playing' could come before level 0's FRAG_BUFFERED or its first frame. The switch flushes the
  // buffer; playing on from the start shows the new level's frames however short the clip is.
  let playing = false;
  const maybeSwitch = () => {
    if (seen.switchedTo === null && playing && seen.buffered.includes(0) && seen.sizes.length > 0) {
      seen.switchedTo = hls.levels.length - 1; hls.currentLevel = seen.switchedTo; video.currentTime = 0;
    }
  };
  const note = () => {
    const size = video.videoWidth + 'x' + video.videoHeight;
    if (video.videoWidth && !seen.sizes.includes(size)) seen.sizes.push(size);
    maybeSwitch();
  };
  hls.on(Hls.Events.FRAG_BUFFERED, (_, d) => { seen.buffered.push(d.frag.level); maybeSwitch(); });
  video.onplaying = () => { playing = true; maybeSwitch(); };
  const paint = () => { note(); if (!video.ended) video.requestVideoFrameCallback(paint); };
  video.requestVideoFrameCallback(paint);
  // A busy machine may paint no frame of a short clip's level; the element still reports its new size.
  video.onresize = note;
  video.onended = () => finish(true);
  // Level 0 chosen by hand, which turns hls.js's ABR off: on a busy machine a slow first fragment made it drop to
  // a lower level on its own before level 0 was ever buffered. The switch below is by hand too.
  hls.on(Hls.Events.MANIFEST_PARSED, () => { window.levels = hls.levels.length; hls.currentLevel = 0; video.play(); });
  hls.loadSource(src);
  hls.attachMedia(video);
}"""


def hls_js(work: Path) -> Path:
    """hls.min.js of the version the app's frontend locks (bun's cache after a frontend build, else bun install)."""
    locked = re.search(r'"hls\.js": \["hls\.js@([0-9.]+)"', (ROOT / "reflex.lock" / "bun.lock").read_text())
    assert locked, "reflex.lock pins no hls.js"
    version = locked.group(1)
    cache = Path(os.environ.get("BUN_INSTALL_CACHE_DIR", Path.home() / ".bun" / "install" / "cache"))
    for found in sorted(cache.glob(f"hls.js@{version}@*/dist/hls.min.js")):
        return found
    (work / "package.json").write_text(json.dumps({"dependencies": {"hls.js": version}}))
    subprocess.run(["bun", "install"], cwd=work, check=True, capture_output=True, timeout=300)
    return work / "node_modules" / "hls.js" / "dist" / "hls.min.js"


@pytest.fixture(scope="module")
def site(outputs: dict[str, tuple[JobReport, Path]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local HTTP server for the outputs (under /hls/<n>/), the page and hls.js; its base URL."""
    root = next(iter(outputs.values()))[1].parent.parent
    (root / "index.html").write_text(PAGE)
    (root / "hls.min.js").write_bytes(hls_js(tmp_path_factory.mktemp("hls-js")).read_bytes())
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
    }

    def end_headers(self) -> None:
        # Never from the browser's cache: a master replaced within the second it was last fetched in would be
        # revalidated against a Last-Modified of whole seconds, and kept.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page(site: str, playwright: Playwright) -> Iterator[Page]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    )
    tab = browser.new_page()
    tab.goto(f"{site}/index.html")
    yield tab
    browser.close()


def play(page: Page, url: str) -> dict[str, Any]:
    """What PLAY left once hls.js played the master at url to its end."""
    page.evaluate(PLAY, url)
    # Only keeps a stalled player from hanging the suite; nothing here is timed.
    page.wait_for_function("window.played !== undefined", timeout=120_000)
    played: dict[str, Any] = page.evaluate("window.played")
    return played


@pytest.mark.parametrize("name", [s.name for s in SOURCES])
def test_hls_js_plays_and_switches_levels(
    outputs: dict[str, tuple[JobReport, Path]], page: Page, site: str, name: str
) -> None:
    _, folder = outputs[name]
    master = m3u8.load(str(folder / "master.m3u8"))
    width, height = master.playlists[-1].stream_info.resolution
    played = play(page, f"{site}/hls/{folder.name}/master.m3u8")
    assert played["ok"], played
    last = len(master.playlists) - 1
    assert 0 in played["buffered"] and last in played["buffered"], played
    assert f"{width}x{height}" in played["sizes"], played
    duration = sum(s.duration for s in m3u8.load(str(folder / master.playlists[0].uri)).segments)
    assert played["time"] >= duration - 0.5, played


def test_hls_js_gets_the_hd_variants_on_a_new_load(
    outputs: dict[str, tuple[JobReport, Path]], page: Page, site: str
) -> None:
    """Issue 33: a production served with its fast pass's master plays its two variants; the master is replaced (as
    the HD pass's merge replaces it: written beside, renamed over) while that player is under way, which plays on to
    the end; a new load of the same URL gets all five variants and plays them."""
    made = outputs["two_pass_1080p"][1]
    folder = made.parent / "before-and-after-hd"  # a production of its own, so the shared outputs stay as made
    shutil.copytree(made, folder)
    merged = (made / "master.m3u8").read_text()
    (folder / "master.m3u8").write_text((outputs["fast_pass_1080p"][1] / "master.m3u8").read_text())
    url = f"{site}/hls/{folder.name}/master.m3u8"
    page.evaluate(PLAY, url)
    page.wait_for_function("window.levels !== undefined", timeout=120_000)
    (folder / "master.staged").write_text(merged)
    (folder / "master.staged").replace(folder / "master.m3u8")
    page.wait_for_function("window.played !== undefined", timeout=120_000)
    before = page.evaluate("window.played")
    assert before["ok"] and page.evaluate("window.levels") == 2, before
    assert {0, 1} <= set(before["buffered"]) and before["time"] >= 1.5, before
    after = play(page, url)
    assert after["ok"] and page.evaluate("window.levels") == 5, after
    assert {0, 4} <= set(after["buffered"]) and "416x234" in after["sizes"], after
