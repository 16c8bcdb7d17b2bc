"""Export routes: HLS status and Prep for Publish, for the member's own exports only."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from exports_app.api.common import signed_in
from exports_app.api.schemas import HlsStatusOut, PrepOut, errors
from exports_app.config import get_settings
from exports_app.db import read_connection
from exports_app.hls_states import PREP_STATES
from exports_app.services import auth, productions

router = APIRouter(prefix="/api/exports", tags=["exports"])


@router.get("/{upload_id}/hls-status", response_model=HlsStatusOut, responses=errors(401, 404))
def hls_status(upload_id: str, request: Request) -> Response:
    # The API's hot path: the session check and the status in one query on one pooled connection.
    with read_connection() as connection:
        status = productions.status_for_session(
            connection=connection, token=request.cookies.get(auth.SESSION_COOKIE), upload_id=upload_id
        )
    # The model's own JSON, the bytes FastAPI would send for it: returned as is, FastAPI does not dump the model to a
    # dict, validate that against the model again and encode it (a third of the route's CPU, bench_status_api).
    return Response(HlsStatusOut.of(status).model_dump_json(by_alias=True), media_type="application/json")


@router.post("/{upload_id}/prep-hls", response_model=PrepOut, responses=errors(401, 403, 404))
def prep_hls(upload_id: str, request: Request) -> PrepOut:
    with signed_in(request, csrf=True) as (session, member):
        status = productions.prep_hls(
            session=session, member=member, upload_id=upload_id, provider=get_settings().transcoder
        )
    assert status.production_id is not None and status.state in PREP_STATES
    return PrepOut(production_id=status.production_id, state=status.state)
