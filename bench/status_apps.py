"""The two ASGI apps the status-API benchmark serves: ours, and a bare Starlette route with the same query."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from exports_app.api.app import create_api
from exports_app.db import get_engine

# What GET /api/exports/{id}/hls-status reads, written by hand: the export, its production, its latest job.
STATUS_SQL = sa.text("""
    SELECT u.create_video_production_id, p.hls_master_uri, j.status, j.percent, j.phase, j.error_message
    FROM uploads u
    LEFT JOIN productions p ON p.id = u.create_video_production_id
    LEFT JOIN media_jobs j ON j.id = (SELECT max(id) FROM media_jobs WHERE production_id = p.id)
    WHERE u.id = :id AND u.user_id = :user AND u.video_role = 'export' AND u.deleted_at IS NULL
""")


def ours() -> object:
    return create_api()


def bare() -> object:
    def status(request: Request) -> JSONResponse:
        with get_engine().connect() as conn:
            row = conn.execute(STATUS_SQL, {"id": int(request.path_params["upload_id"]), "user": 1}).first()
        if row is None:
            return JSONResponse({"error": "Export not found."}, status_code=404)
        return JSONResponse({"state": row.status, "productionId": row.create_video_production_id})

    return Starlette(routes=[Route("/api/exports/{upload_id}/hls-status", status)])
