"""The passes of a production: which sources get two, which rungs each encodes, and the one master merged from them."""

from __future__ import annotations

import m3u8
import pytest

from exports_app.domain import Pass
from exports_app.transcode.ladder import choose_renditions, master_order, pass_rungs, passes_for
from exports_app.transcode.master_merge import PassMaster, merge_masters, relative_folder


@pytest.mark.parametrize(
    ("width", "height", "passes"),
    [
        (1920, 1080, (Pass.FAST, Pass.HD)),
        (1080, 1920, (Pass.FAST, Pass.HD)),  # portrait: by the short side
        (1280, 720, (Pass.FAST, Pass.HD)),
        (960, 540, (Pass.FULL,)),  # at or below 540p: one pass
        (640, 360, (Pass.FULL,)),
        (None, None, (Pass.FULL,)),
    ],
)
def test_two_passes_only_above_540p(width: int | None, height: int | None, passes: tuple[Pass, ...]) -> None:
    assert passes_for(width, height) == passes


def test_the_passes_split_the_ladder_and_keep_its_names() -> None:
    rungs = choose_renditions(1920, 1080)
    fast, hd = pass_rungs(rungs, Pass.FAST), pass_rungs(rungs, Pass.HD)
    assert [(i, r.height) for i, r in fast] == [(3, 360), (4, 234)]  # the fast pass: at least two variants
    assert [(i, r.height) for i, r in hd] == [(0, 1080), (1, 720), (2, 540)]
    assert sorted(fast + hd) == list(enumerate(rungs)) == pass_rungs(rungs, Pass.FULL)


def _master(rungs: list[tuple[int, int, int]]) -> str:
    """A master as the transcoders write one: (ladder index, height, bandwidth) per variant, with I-frame playlists."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for index, height, bandwidth in rungs:
        lines += [
            f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS="avc1.4d401e,mp4a.40.2",'
            f"RESOLUTION={height * 16 // 9}x{height},FRAME-RATE=29.970,VIDEO-RANGE=SDR",
            f"v{index}/index.m3u8",
        ]
    lines += [
        f'#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000,CODECS="avc1.4d401e",RESOLUTION={height * 16 // 9}x{height},'
        f'URI="v{index}/iframes.m3u8"'
        for index, height, _ in rungs
    ]
    return "\n".join(lines) + "\n"


def test_merged_master_lists_every_variant_in_the_ladders_order() -> None:
    rungs = choose_renditions(1920, 1080)
    order = [(rungs[i].width, rungs[i].height) for i in master_order(rungs)]
    fast = _master([(3, 360, 900_000), (4, 234, 250_000)])
    hd = _master([(2, 540, 2_200_000), (0, 1080, 5_300_000), (1, 720, 3_200_000)])
    merged = merge_masters([PassMaster(fast), PassMaster(hd)], order)
    parsed = m3u8.loads(merged)
    assert [p.stream_info.resolution[1] for p in parsed.playlists] == [540, 1080, 720, 360, 234]
    assert [p.uri for p in parsed.playlists] == [f"v{i}/index.m3u8" for i in (2, 0, 1, 3, 4)]
    assert [p.uri for p in parsed.iframe_playlists] == [f"v{i}/iframes.m3u8" for i in (2, 0, 1, 3, 4)]
    assert "FRAME-RATE=29.970" in merged  # each variant's lines as its pass wrote them
    # Merging again (the same pass told twice) changes nothing; neither does the order the masters come in.
    assert merge_masters([PassMaster(merged), PassMaster(hd)], order) == merged
    assert merge_masters([PassMaster(hd), PassMaster(fast)], order) == merged


def test_a_pass_in_a_folder_of_its_own_is_rebased() -> None:
    fast = _master([(3, 360, 900_000), (4, 234, 250_000)])
    merged = merge_masters([PassMaster(fast, "17")], [(640, 360), (416, 234)])
    parsed = m3u8.loads(merged)
    assert [p.uri for p in parsed.playlists] == ["17/v3/index.m3u8", "17/v4/index.m3u8"]
    assert [p.uri for p in parsed.iframe_playlists] == ["17/v3/iframes.m3u8", "17/v4/iframes.m3u8"]
    assert relative_folder("s3://b/hls/5/17/master.m3u8", "s3://b/hls/5/master.m3u8") == "17"
    assert relative_folder("hls/5/master_hd.m3u8", "hls/5/master.m3u8") == ""
    with pytest.raises(ValueError):
        relative_folder("s3://b/hls/6/17/master.m3u8", "s3://b/hls/5/master.m3u8")


def test_a_master_without_variants_is_refused() -> None:
    with pytest.raises(ValueError):
        merge_masters([PassMaster("#EXTM3U\n")], [])
