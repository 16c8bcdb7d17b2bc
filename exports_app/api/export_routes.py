"""Export routes: HLS status and Prep for Publish, for the member's own exports only."""

from __future__ import annotations

from fastapi import APIRouter, Request

from exports_app.api.common import signed_in
from exports_app.config import get_settings
from exports_app.services import productions

router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.get("/{upload_id}/hls-status")
def hls_status(upload_id: str, request: Request) -> dict[str, object]:
    with signed_in(request) as (session, member):
        return productions.export_status(session, member, upload_id).as_api()


@router.post("/{upload_id}/prep-hls")
def prep_hls(upload_id: str, request: Request) -> dict[str, object]:
    with signed_in(request, csrf=True) as (session, member):
        status = productions.prep_hls(session, member, upload_id, get_settings().transcoder)
    return {"productionId": status.production_id, "state": status.state}
