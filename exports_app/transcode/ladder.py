"""The ABR ladder as data, shared by both transcoders: which renditions a source gets, and how they are encoded.

Rungs are named and chosen by the short side, so a portrait phone video gets portrait rungs (1080x1920)
and a 4:3 or anamorphic source keeps its display aspect with square pixels. Nothing is upscaled, every
source gets at least two variants, the lowest one small enough for cellular (Apple's authoring spec
suggests about 145 kbit/s at 416x234), and the master lists the variant nearest 2 Mbit/s first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from exports_app.domain import Pass

SEGMENT_SECONDS = 6
GOP_SECONDS = 2  # closed GOPs; three per segment, so every segment starts on an IDR
AUDIO_SAMPLE_RATE = 48_000
AUDIO_CHANNELS = 2
START_BANDWIDTH = 2_000_000  # the variant a player starts with should be near this (Apple's authoring spec)


@dataclass(frozen=True)
class Rung:
    """One rendition of the ladder, sized for the source: width x height are the displayed frame."""

    name: str  # by the short side: "1080p"
    width: int
    height: int
    video_kbps: int
    audio_kbps: int
    profile: str  # H.264: "high" from 720p up, else "main"

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    @property
    def bandwidth(self) -> int:
        """Peak bits per second the settings allow (video max rate + audio)."""
        return (self.video_kbps + self.audio_kbps) * 1000


@dataclass(frozen=True)
class Step:
    """A rung of the reference ladder, before it is fitted to a source's aspect and orientation."""

    short_side: int
    video_kbps: int
    audio_kbps: int = 128


# Apple's authoring spec and AWS's VOD templates, trimmed to five rungs: every step roughly halves the pixels.
LADDER = (Step(1080, 5000), Step(720, 3000), Step(540, 2000), Step(360, 730), Step(234, 145, 64))
CELLULAR = LADDER[-1]
MIN_VIDEO_KBPS = 16  # the least the half of a tiny source gets (the 96x72 half of 192x144 gets 36)
HIGH_PROFILE_FROM = 720


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _fit(step: Step, width: int, height: int, short_side: int | None = None) -> Rung:
    """step sized for a width x height display: its short side, the long side at the source's aspect."""
    short = short_side or step.short_side
    long_side = _even(short * max(width, height) / min(width, height))
    short = _even(short)
    size = (long_side, short) if width >= height else (short, long_side)
    profile = "high" if short >= HIGH_PROFILE_FROM else "main"
    return Rung(f"{short}p", size[0], size[1], step.video_kbps, step.audio_kbps, profile)


def choose_renditions(width: int | None, height: int | None) -> list[Rung]:
    """The rungs for a source displayed at width x height, highest first: never above the source, at least two.

    A source smaller than two reference rungs gets its own size (at a bitrate scaled by its pixels from
    the 360p step, at least the cellular rung's) and half that size at a bitrate scaled by its pixels from
    its own size's: a quarter, so the smaller variant costs less. An unknown size gets 720p and 360p at 16:9.
    """
    if not width or not height:
        return [_fit(LADDER[1], 16, 9), _fit(LADDER[3], 16, 9)]
    short = min(width, height)
    fitting = [_fit(step, width, height) for step in LADDER if step.short_side <= short]
    if len(fitting) >= 2:
        return fitting
    reference = LADDER[3]
    scaled = max(CELLULAR.video_kbps, round(reference.video_kbps * (short / reference.short_side) ** 2))
    own = _fit(Step(short, min(scaled, reference.video_kbps), reference.audio_kbps), width, height)
    half = _fit(CELLULAR, width, height, short_side=max(2, short // 2))
    share = (half.width * half.height) / (own.width * own.height)
    return [own, replace(half, video_kbps=max(MIN_VIDEO_KBPS, round(own.video_kbps * share)))]


# Two passes for a source whose ladder reaches above ONE_PASS_UP_TO (its short side): the fast pass encodes the rungs
# up to FAST_UP_TO and makes the production ready; the HD pass encodes the rest. On 2 cores a 120 s 1080p30 clip takes
# 0.22x its length for 360p + 234p and 0.35x for the rungs up to 540p, so the fast pass stops at 360p to be ready
# within 0.3x the length.
ONE_PASS_UP_TO = 540
FAST_UP_TO = 360


def passes_for(width: int | None, height: int | None) -> tuple[Pass, ...]:
    """The passes a source displayed at width x height is encoded in: (FAST, HD) above 540p, else (FULL,)."""
    rungs = choose_renditions(width, height)
    if width and height and min(width, height) > ONE_PASS_UP_TO and len(pass_rungs(rungs, Pass.FAST)) >= 2:
        return (Pass.FAST, Pass.HD)
    return (Pass.FULL,)


def pass_rungs(rungs: list[Rung], which: Pass) -> list[tuple[int, Rung]]:
    """The rungs a pass encodes, each with its index in the whole ladder (its variant's name, v<index>, whichever
    pass makes it, so the merged master names every variant as a one-pass master would)."""
    return [(i, rung) for i, rung in enumerate(rungs) if in_pass(rung.short_side, which)]


def in_pass(short_side: int, which: Pass) -> bool:
    """Whether the pass `which` encodes a rendition of this short side (the whole ladder: every one)."""
    return which is Pass.FULL or (short_side <= FAST_UP_TO) == (which is Pass.FAST)


def master_order(rungs: list[Rung]) -> list[int]:
    """Indexes of rungs in the master's order: the one nearest 2 Mbit/s first, then the rest highest first."""
    first = min(range(len(rungs)), key=lambda i: abs(rungs[i].bandwidth - START_BANDWIDTH))
    return [first, *(i for i in range(len(rungs)) if i != first)]


def frame_rate_text(rate: Fraction) -> str:
    """FRAME-RATE's form: decimal, three places (29.970)."""
    return f"{float(rate):.3f}"
