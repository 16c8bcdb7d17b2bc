"""Export routes: HLS status and Prep for Publish, for the member's own exports only."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlmodel import Session

from exports_app.api.common import csrf_member, current_member, db_session
from exports_app.config import get_settings
from exports_app.services import productions
from exports_app.services.auth import Member

router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.get("/{upload_id}/hls-status")
def hls_status(upload_id: str, member: Member = Depends(current_member),
               session: Session = Depends(db_session)) -> dict[str, object]:
    return productions.export_status(session, member, upload_id).as_api()


@router.post("/{upload_id}/prep-hls")
def prep_hls(upload_id: str, member: Member = Depends(csrf_member),
             session: Session = Depends(db_session)) -> dict[str, object]:
    status = productions.prep_hls(session, member, upload_id, get_settings().transcoder)
    return {"productionId": status.production_id, "state": status.state}
