"""HLS media route: a production's playlists and segments, for its owner only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from exports_app.api.common import ApiError, signed_in
from exports_app.services import media_files
from exports_app.transcode.factory import read_output

router = APIRouter(tags=["media"])


@router.get("/media/hls/{production_id}/{relative:path}")
def hls_file(production_id: str, relative: str, request: Request) -> Response:
    with signed_in(request) as (session, member):
        found = media_files.hls_file(session, member, production_id, relative)
    headers = {"Cache-Control": "private, max-age=60"}
    if found.path is not None:
        return FileResponse(found.path, media_type=found.content_type, headers=headers)
    try:
        body = read_output(found.s3_uri or "")
    except FileNotFoundError as exc:
        raise ApiError(404, "File not found.") from exc
    return Response(body, media_type=found.content_type, headers=headers)
