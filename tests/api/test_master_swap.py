"""The master playlist swapped under a player that keeps fetching it (issue 33).

When the HD pass ends, its master is merged into the production's and written beside it, then renamed over it
(storage.write_bytes). A reader fetching the master in a loop through /media/hls meanwhile gets the fast pass's
master or the merged one, each whole: never a 404, never a part of one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import m3u8
import pytest
from fastapi.testclient import TestClient

from exports_app.api.app import create_api
from exports_app.jobs.refresh import tick
from exports_app.services import storage
from exports_app.services.auth import Member
from exports_app.transcode.local_ffmpeg import LocalFfmpegTranscoder
from tests.support.api_client import sign_in
from tests.support.clips import make_clip
from tests.support.local_jobs import wait_for
from tests.support.records import import_clip, ready_production


class Reader:
    """Fetches a URL in a loop on its own thread and client, gzip and identity in turn, keeping every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[httpx.Response] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="master-reader", daemon=True)

    def _run(self) -> None:
        client = sign_in(TestClient(create_api(), base_url="http://testserver"), "alice")
        encodings = ("gzip", "identity")
        while not self._stop.is_set():
            encoding = encodings[len(self.answers) % 2]
            self.answers.append(client.get(self.url, headers={"Accept-Encoding": encoding}))

    def fetched(self) -> int:
        return len(self.answers)

    def await_more(self, count: int = 1) -> None:
        """Wait until it has made `count` more fetches than it had."""
        wanted = len(self.answers) + count
        wait_for(lambda: len(self.answers) >= wanted)

    @contextmanager
    def running(self) -> Iterator[Reader]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def bodies(answers: list[httpx.Response]) -> set[str]:
    """The distinct masters the reader got, each checked whole: 200, the length it was announced with, every line
    ended, and a master that parses with a media playlist and an I-frame playlist per variant."""
    seen = set()
    for answer in answers:
        assert answer.status_code == 200, answer.status_code
        if "content-encoding" not in answer.headers:  # sent as it is: the announced length is the body's
            assert int(answer.headers["content-length"]) == len(answer.content)
        text = answer.text
        assert text.endswith("\n"), text
        master = m3u8.loads(text)
        assert master.playlists and len(master.iframe_playlists) == len(master.playlists), text
        assert all(v.uri.endswith("/index.m3u8") for v in master.playlists), text
        seen.add(text)
    return seen


def test_hd_pass_swaps_the_master_whole_under_a_reader(alice_client: TestClient, alice: Member, tmp_path: Path) -> None:
    upload_id = import_clip(alice, make_clip(tmp_path / "a.mp4", seconds=2.0, width=1280, height=720))
    prep = alice_client.post(f"/api/exports/{upload_id}/prep-hls").json()
    url = f"/media/hls/{prep['productionId']}/master.m3u8"

    def status() -> dict[str, object]:
        body: dict[str, object] = alice_client.get(f"/api/exports/{upload_id}/hls-status").json()
        return body

    pool = LocalFfmpegTranscoder(storage.path_for("hls"))
    try:
        wait_for(lambda: tick(pool, 3600) is not None and status()["state"] == "ready")
        assert status()["hdState"] == "in_progress"
        fast = alice_client.get(url).text
        with Reader(url).running() as reader:
            reader.await_more()  # it has the fast pass's master before the HD pass can end
            wait_for(lambda: tick(pool, 3600) is not None and status()["hdState"] != "in_progress")
            assert status()["hdState"] == "ready"
            reader.await_more()  # and the merged one after
    finally:
        pool.close()
    merged = alice_client.get(url).text
    assert len(m3u8.loads(fast).playlists) == 2 and len(m3u8.loads(merged).playlists) == 4
    assert bodies(reader.answers) == {fast, merged}


def in_place(key: str, data: bytes, meanwhile: Callable[[], None]) -> None:
    """Replace the file where it is, half first, `meanwhile` between the halves: what write_bytes must never do."""
    with storage.path_for(key).open("wb") as out:
        out.write(data[: len(data) // 2])
        out.flush()
        meanwhile()
        out.write(data[len(data) // 2 :])


def master_text(variants: int) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for n in range(variants):
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={n + 1}000000,RESOLUTION=640x360", f"v{n}/index.m3u8"]
    lines += [f'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={n + 1}00000,URI="v{n}/iframes.m3u8"' for n in range(variants)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("writer", ["write_bytes", "in_place"])
def test_the_master_route_sends_each_master_whole(alice: Member, data_dir: Path, writer: str) -> None:
    """The master rewritten over and over, between a short and a long text, while the reader fetches it: written as
    write_bytes writes it, every answer is one of the two, whole, with its own length (gzipped or not); written in
    place, the same checks catch the half-written master the reader was sent (so the HD pass's test can fail)."""
    production_id = ready_production(alice, "Swapped")
    key = f"hls/{production_id}/master.m3u8"
    short, long = master_text(2), master_text(5)
    storage.path_for(key).parent.mkdir(parents=True, exist_ok=True)
    storage.write_bytes(key, short.encode())
    with Reader(f"/media/hls/{production_id}/master.m3u8").running() as reader:
        if writer == "write_bytes":
            rounds = 0
            while reader.fetched() < 200:
                storage.write_bytes(key, (long if rounds % 2 == 0 else short).encode())
                rounds += 1
        else:
            for text in (long, short):
                # Two fetches between the halves: the second began after the first half was written.
                in_place(key, text.encode(), lambda: reader.await_more(2))
    if writer == "in_place":
        with pytest.raises(AssertionError):
            bodies(reader.answers)
    else:
        assert bodies(reader.answers) == {short, long}
