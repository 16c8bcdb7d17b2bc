"""HLS files of a production, read for its owner: local files or MediaConvert's S3 output."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from exports_app.services import storage
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.services.productions import owned_production
from exports_app.transcode.factory import read_output

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
}


@dataclass(frozen=True)
class HlsFile:
    content_type: str
    path: Path | None = None  # a local file
    s3_uri: str | None = None  # MediaConvert output


def hls_file(session: Session, member: Member, production_id: object, relative: str) -> HlsFile:
    """The file `relative` next to the production's master playlist; NotFound for anything else."""
    production = owned_production(session, member, production_id)
    master = production.hls_master_uri
    suffix = posixpath.splitext(relative)[1].lower()
    clean = posixpath.normpath(relative)
    if not master or suffix not in CONTENT_TYPES or clean.startswith(("..", "/")) or "\\" in relative \
            or "\x00" in relative:
        raise NotFound("File not found.")
    base = posixpath.dirname(master)
    target = posixpath.join(base, clean)
    if master.startswith("s3://"):
        return HlsFile(CONTENT_TYPES[suffix], s3_uri=target)
    try:
        path = storage.path_for(target)
    except FileNotFoundError as exc:
        raise NotFound("File not found.") from exc
    try:
        found = path.is_file()
    except OSError:  # e.g. a name longer than the filesystem allows
        found = False
    if not found:
        raise NotFound("File not found.")
    return HlsFile(CONTENT_TYPES[suffix], path=path)


def s3_bytes(found: HlsFile) -> bytes:
    """The bytes of a MediaConvert output file found by hls_file; NotFound if S3 has no such object."""
    try:
        return read_output(found.s3_uri or "")
    except FileNotFoundError as exc:
        raise NotFound("File not found.") from exc
