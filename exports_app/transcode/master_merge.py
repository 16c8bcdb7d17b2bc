"""One master playlist made from the masters of a production's passes: every variant of each, in the ladder's order.

Both transcoders write a master per pass (the fast pass's low rungs, then the HD pass's high ones). A player is
given one master that lists them all, merged here from the passes' texts as they were written: each variant's
lines are kept as its pass wrote them (its measured BANDWIDTH, CODECS, FRAME-RATE), only its URIs are made relative
to where the merged master is served. The variants are listed as the one-pass ladder lists them (ladder.master_order:
the one nearest 2 Mbit/s first, then highest first), found by their RESOLUTION; I-frame playlists likewise.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

_RESOLUTION = re.compile(r"RESOLUTION=(\d+)x(\d+)")
_BANDWIDTH = re.compile(r"(?:^|[:,])BANDWIDTH=(\d+)")
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')
_HEADER_TAGS = ("#EXTM3U", "#EXT-X-VERSION:", "#EXT-X-INDEPENDENT-SEGMENTS")


@dataclass(frozen=True)
class PassMaster:
    """A pass's master playlist: its text, and the folder it lies in relative to the merged master's ("" if the
    same folder, e.g. "1234" for a MediaConvert job's folder beside it)."""

    text: str
    folder: str = ""


@dataclass(frozen=True)
class _Entry:
    lines: tuple[str, ...]  # the tag line, and for a variant its URI line
    uri: str  # as rebased: what makes two entries the same variant
    size: tuple[int, int]
    bandwidth: int


def _rebase(uri: str, folder: str) -> str:
    if not folder or "://" in uri or uri.startswith("/"):
        return uri
    return posixpath.normpath(posixpath.join(folder, uri))


def _size(tag: str) -> tuple[int, int]:
    found = _RESOLUTION.search(tag)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def _bandwidth(tag: str) -> int:
    found = _BANDWIDTH.search(tag)
    return int(found.group(1)) if found else 0


def _entries(master: PassMaster) -> tuple[list[_Entry], list[_Entry], list[str], int]:
    """A master's variants, I-frame playlists and other tags (e.g. EXT-X-MEDIA), rebased; and its EXT-X-VERSION."""
    variants: list[_Entry] = []
    iframes: list[_Entry] = []
    others: list[str] = []
    version = 0
    lines = [line.strip() for line in master.text.splitlines() if line.strip()]
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("#EXT-X-VERSION:"):
            version = max(version, int(line.split(":", 1)[1] or 0))
        elif line.startswith("#EXT-X-STREAM-INF:") and index < len(lines) and not lines[index].startswith("#"):
            uri = _rebase(lines[index], master.folder)
            variants.append(_Entry((line, uri), uri, _size(line), _bandwidth(line)))
            index += 1
        elif line.startswith(_HEADER_TAGS) or not line.startswith("#"):
            continue
        else:
            found = _URI_ATTRIBUTE.search(line)
            uri = _rebase(found.group(1), master.folder) if found else ""
            rebased = line.replace(found.group(0), f'URI="{uri}"') if found else line
            if line.startswith("#EXT-X-I-FRAME-STREAM-INF:"):
                iframes.append(_Entry((rebased,), uri, _size(line), _bandwidth(line)))
            else:
                others.append(rebased)
    return variants, iframes, others, version


def _ordered(entries: list[_Entry], order: Sequence[tuple[int, int]]) -> list[_Entry]:
    """One entry per URI (a later pass's wins), in `order` by size; sizes not in it last, highest bandwidth first."""
    unique = list({entry.uri: entry for entry in entries}.values())
    rank = {size: position for position, size in enumerate(order)}
    return sorted(unique, key=lambda e: (rank.get(e.size, len(rank)), -e.bandwidth))


def merge_masters(masters: Sequence[PassMaster], order: Sequence[tuple[int, int]]) -> str:
    """The master that lists every variant of `masters`; order: the ladder's sizes (width, height) in master order.

    ValueError if no master lists a variant (nothing to play).
    """
    variants: list[_Entry] = []
    iframes: list[_Entry] = []
    others: list[str] = []
    version = 3
    for master in masters:
        found_variants, found_iframes, found_others, found_version = _entries(master)
        variants += found_variants
        iframes += found_iframes
        others += [line for line in found_others if line not in others]
        version = max(version, found_version)
    if not variants:
        raise ValueError("no pass master lists a variant")
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", "#EXT-X-INDEPENDENT-SEGMENTS", *others]
    for entry in _ordered(variants, order):
        lines += entry.lines
    for entry in _ordered(iframes, order):
        lines += entry.lines
    return "\n".join(lines) + "\n"


def relative_folder(pass_master_uri: str, merged_master_uri: str) -> str:
    """The folder of a pass's master relative to the merged master's ("" when they share one)."""
    folder = posixpath.dirname(pass_master_uri)
    base = posixpath.dirname(merged_master_uri)
    if folder == base:
        return ""
    if not folder.startswith(base + "/"):
        raise ValueError(f"{pass_master_uri} is not beside {merged_master_uri}")
    return folder[len(base) + 1 :]
