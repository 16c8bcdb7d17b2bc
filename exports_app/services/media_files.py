"""Media files read for their owner: a production's HLS and poster, an export's poster (local files or S3)."""

from __future__ import annotations

import gzip
import posixpath
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from exports_app.models import Upload
from exports_app.services import exports, posters, storage
from exports_app.services.auth import Member
from exports_app.services.errors import NotFound
from exports_app.services.productions import owned_production
from exports_app.transcode.factory import is_remote, read_output
from exports_app.transcode.poster import POSTER_CONTENT_TYPE

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".aac": "audio/aac",
    ".vtt": "text/vtt",
}


@dataclass(frozen=True)
class MediaFile:
    """A file to send: on local disk (path), or a remote output the transcoder reads (remote_uri)."""

    content_type: str
    path: Path | None = None  # a local file
    remote_uri: str | None = None  # e.g. MediaConvert's output bucket
    body: bytes | None = None  # already read
    # Replaced in place at times (a production's master grows when its HD pass lands): caches must ask again.
    changes: bool = False


def hls_file(*, session: Session, member: Member, production_id: object, relative: str) -> MediaFile:
    """The file `relative` next to the production's master playlist; NotFound for anything else.

    A master the app merged from the production's passes (productions.master_playlist) is served from the row, at
    the master's own name; the files it lists are the passes' outputs, in their folders beside it.
    """
    production = owned_production(session=session, member=member, production_id=production_id)
    master = production.hls_master_uri
    suffix = posixpath.splitext(relative)[1].lower()
    clean = posixpath.normpath(relative)
    if (
        not master
        or suffix not in CONTENT_TYPES
        or clean.startswith(("..", "/"))
        or "\\" in relative
        or "\x00" in relative
    ):
        raise NotFound("File not found.")
    is_master = clean == posixpath.basename(master)
    if production.master_playlist is not None and is_master:
        return MediaFile(CONTENT_TYPES[suffix], body=production.master_playlist.encode(), changes=True)
    base = posixpath.dirname(master)
    target = posixpath.join(base, clean)
    if is_remote(master):
        return MediaFile(CONTENT_TYPES[suffix], remote_uri=target, changes=is_master)
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
    return MediaFile(CONTENT_TYPES[suffix], path=path, changes=is_master)


def _poster_of(session: Session, upload: Upload | None) -> MediaFile:
    key = posters.ensure_poster(session=session, upload=upload) if upload is not None else None
    if key is None:
        raise NotFound("File not found.")
    return MediaFile(POSTER_CONTENT_TYPE, path=storage.path_for(key))


def export_poster(*, session: Session, member: Member, upload_id: object) -> MediaFile:
    """The poster frame of the member's live export, made now if it predates posters; NotFound otherwise."""
    return _poster_of(session, exports.get_export(session=session, member=member, upload_id=upload_id))


def production_poster(*, session: Session, member: Member, production_id: object) -> MediaFile:
    """The production's own frame capture (MediaConvert), else the poster of the export it was made from."""
    production = owned_production(session=session, member=member, production_id=production_id)
    if production.poster_uri and is_remote(production.poster_uri):
        try:
            return MediaFile(POSTER_CONTENT_TYPE, body=read_output(production.poster_uri))
        except FileNotFoundError:  # a job made before frame captures were asked for
            pass
    return _poster_of(session, session.get(Upload, production.upload_id))


def remote_bytes(found: MediaFile) -> bytes:
    """The bytes of a remote output file found here; NotFound if it does not exist."""
    try:
        return read_output(found.remote_uri or "")
    except FileNotFoundError as exc:
        raise NotFound("File not found.") from exc


# Playlists are text that shrinks to a fifth; segments and images are compressed already.
COMPRESSIBLE = frozenset({"application/vnd.apple.mpegurl", "text/vtt"})
PLAYLIST_LIMIT = 16 * 1024 * 1024  # a playlist is read whole to compress it; no real one comes near


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (not "gzip;q=0"; "*" counts)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() not in ("gzip", "*"):
            continue
        quality = params.strip().removeprefix("q=")
        try:
            return not params.strip().startswith("q=") or float(quality) > 0
        except ValueError:
            return False
    return False


def gzipped(found: MediaFile, accept_encoding: str) -> bytes | None:
    """A playlist's bytes gzip-compressed when the client accepts gzip; None for anything to send as it is."""
    if found.content_type not in COMPRESSIBLE or not accepts_gzip(accept_encoding):
        return None
    if found.path is not None:
        if found.path.stat().st_size > PLAYLIST_LIMIT:
            return None
        body = found.path.read_bytes()
    else:
        body = found.body if found.body is not None else remote_bytes(found)
    # mtime=0: the same playlist compresses to the same bytes (stable for caches and ETags).
    return gzip.compress(body, compresslevel=6, mtime=0)
