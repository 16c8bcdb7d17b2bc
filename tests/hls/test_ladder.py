"""The ladder as data: rungs by the short side, orientation and display aspect kept, never upscaled, two at least."""

from __future__ import annotations

import pytest

from exports_app.transcode.ladder import choose_renditions, master_order

LANDSCAPE_1080 = [(1920, 1080), (1280, 720), (960, 540), (640, 360), (416, 234)]


@pytest.mark.parametrize(
    ("width", "height", "sizes"),
    [
        (1920, 1080, LANDSCAPE_1080),
        (1080, 1920, [(h, w) for w, h in LANDSCAPE_1080]),  # portrait phone video: portrait rungs up to 1080x1920
        (3840, 2160, LANDSCAPE_1080),
        (1280, 720, LANDSCAPE_1080[1:]),
        (1024, 576, [(960, 540), (640, 360), (416, 234)]),  # anamorphic PAL 16:9 as displayed
        (640, 360, [(640, 360), (416, 234)]),  # was a single variant
        (640, 480, [(480, 360), (312, 234)]),  # 4:3 keeps 4:3
        (320, 240, [(320, 240), (160, 120)]),  # below the ladder: its own size and half of it
    ],
)
def test_rungs_by_short_side(width: int, height: int, sizes: list[tuple[int, int]]) -> None:
    rungs = choose_renditions(width, height)
    assert [(r.width, r.height) for r in rungs] == sizes
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in rungs)
    assert all(min(r.width, r.height) <= min(width, height) for r in rungs), "never upscaled"
    assert len(rungs) >= 2


def test_names_profiles_and_cellular_rung() -> None:
    rungs = choose_renditions(1080, 1920)
    assert [r.name for r in rungs] == ["1080p", "720p", "540p", "360p", "234p"]
    assert [r.profile for r in rungs] == ["high", "high", "main", "main", "main"]
    assert rungs[-1].video_kbps == 145 and rungs[-1].bandwidth < 250_000


def test_master_starts_near_two_megabits() -> None:
    rungs = choose_renditions(1920, 1080)
    order = master_order(rungs)
    assert rungs[order[0]].name == "540p" and sorted(order) == list(range(len(rungs)))
    assert [rungs[i].name for i in order[1:]] == ["1080p", "720p", "360p", "234p"]


@pytest.mark.parametrize(("width", "height"), [(192, 144), (320, 240), (300, 200)])  # 192x144: QCIF 176x144 at 12:11
def test_the_half_of_a_small_source_costs_its_share_of_pixels(width: int, height: int) -> None:
    own, half = choose_renditions(width, height)
    assert (half.width, half.height) == (own.width // 2, own.height // 2)
    assert half.video_kbps < own.video_kbps and half.bandwidth < own.bandwidth
    share = (half.width * half.height) / (own.width * own.height)
    assert half.video_kbps == pytest.approx(own.video_kbps * share, abs=1), "bitrate scales with the pixels"
