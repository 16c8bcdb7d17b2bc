"""Media routes: a production's playlists, segments and poster, an export's poster; for their owner only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from exports_app.api.common import signed_in
from exports_app.api.schemas import errors
from exports_app.services import media_files

router = APIRouter(tags=["media"])


def _send(found: media_files.MediaFile, max_age: int, accept_encoding: str = "") -> Response:
    # A master that may still grow (its HD pass) is asked for again on every load, so a new load gets HD.
    headers = {"Cache-Control": "private, no-cache" if found.changes else f"private, max-age={max_age}"}
    if found.content_type in media_files.COMPRESSIBLE:
        headers["Vary"] = "Accept-Encoding"
    compressed = media_files.gzipped(found, accept_encoding)
    if compressed is not None:
        return Response(compressed, media_type=found.content_type, headers={**headers, "Content-Encoding": "gzip"})
    if found.path is not None and found.content_type in media_files.COMPRESSIBLE:
        # A playlist goes out as read, once: a master replaced meanwhile (renamed over as the HD pass is merged) would
        # go out of a FileResponse with the old file's length and the new file's bytes.
        return Response(found.path.read_bytes(), media_type=found.content_type, headers=headers)
    if found.path is not None:
        return FileResponse(found.path, media_type=found.content_type, headers=headers)
    if found.body is not None:
        return Response(found.body, media_type=found.content_type, headers=headers)
    return Response(media_files.remote_bytes(found), media_type=found.content_type, headers=headers)


@router.get("/media/hls/{production_id}/{relative:path}", responses=errors(401, 404))
def hls_file(production_id: str, relative: str, request: Request) -> Response:
    with signed_in(request) as (session, member):
        found = media_files.hls_file(session=session, member=member, production_id=production_id, relative=relative)
    return _send(found, 60, request.headers.get("accept-encoding", ""))


@router.get("/media/posters/exports/{upload_id}", responses=errors(401, 404))
def export_poster(upload_id: str, request: Request) -> Response:
    """The export's poster frame (made on this first view if the export predates posters)."""
    with signed_in(request) as (session, member):
        found = media_files.export_poster(session=session, member=member, upload_id=upload_id)
    return _send(found, 3600)


@router.get("/media/posters/productions/{production_id}", responses=errors(401, 404))
def production_poster(production_id: str, request: Request) -> Response:
    """The production's poster: MediaConvert's frame capture, or its export's poster frame."""
    with signed_in(request) as (session, member):
        found = media_files.production_poster(session=session, member=member, production_id=production_id)
    return _send(found, 3600)
