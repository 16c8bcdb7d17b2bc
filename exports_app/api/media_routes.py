"""HLS media route: a production's playlists and segments, for its owner only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from exports_app.api.common import signed_in
from exports_app.api.schemas import errors
from exports_app.services import media_files

router = APIRouter(tags=["media"])


@router.get("/media/hls/{production_id}/{relative:path}", responses=errors(401, 404))
def hls_file(production_id: str, relative: str, request: Request) -> Response:
    with signed_in(request) as (session, member):
        found = media_files.hls_file(session, member, production_id, relative)
    headers = {"Cache-Control": "private, max-age=60"}
    if found.path is not None:
        return FileResponse(found.path, media_type=found.content_type, headers=headers)
    return Response(media_files.s3_bytes(found), media_type=found.content_type, headers=headers)
