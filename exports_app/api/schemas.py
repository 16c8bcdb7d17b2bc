"""The API's JSON shapes (docs/api.md), as typed response models so /api/openapi.json shows the contract."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from exports_app.hls_states import HlsState, PrepState, states_described
from exports_app.services.auth import Member
from exports_app.services.hls_status import HlsStatus


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class ErrorOut(_Out):
    """Every error body."""

    error: str


class HlsStatusOut(_Out):
    """GET /api/exports/{uploadId}/hls-status: state, productionId and detail never change meaning."""

    state: HlsState = Field(description=states_described())
    production_id: int | None = Field(serialization_alias="productionId")
    detail: str | None = Field(description="A short human error (at most 200 characters) when failed.")
    percent: int | None = None
    phase: str | None = None
    hls_url: str | None = Field(None, serialization_alias="hlsUrl")
    poster_url: str | None = Field(None, serialization_alias="posterUrl")
    updated_at: datetime | None = Field(None, serialization_alias="updatedAt")
    attempt: int | None = Field(None, description="When failed: the attempt that failed (1 for the first prep).")
    failed_at: datetime | None = Field(None, serialization_alias="failedAt")
    hd_state: HlsState | None = Field(
        None,
        serialization_alias="hdState",
        description="A source above 540p is encoded in two passes: the state of its HD pass (in_progress, ready or "
        "failed), which never changes `state`; null for a production of one pass.",
    )
    hd_percent: int | None = Field(None, serialization_alias="hdPercent")
    hd_detail: str | None = Field(None, serialization_alias="hdDetail", description="Why the HD pass failed.")

    @classmethod
    def of(cls, status: HlsStatus) -> HlsStatusOut:
        return cls(
            state=status.state,
            production_id=status.production_id,
            detail=status.detail,
            percent=status.percent,
            phase=status.phase,
            hls_url=status.hls_url,
            poster_url=status.poster_url,
            updated_at=status.updated_at,
            attempt=status.attempt,
            failed_at=status.failed_at,
            hd_state=status.hd.state if status.hd else None,
            hd_percent=status.hd.percent if status.hd else None,
            hd_detail=status.hd.detail if status.hd else None,
        )


class PrepOut(_Out):
    """POST /api/exports/{uploadId}/prep-hls."""

    production_id: int = Field(serialization_alias="productionId")
    state: PrepState


class MemberOut(_Out):
    id: int
    username: str

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(id=member.id, username=member.username)


class MeOut(_Out):
    """GET /api/auth/me."""

    member: MemberOut


class LoginOut(MeOut):
    """POST /api/auth/login: the member and the CSRF token (also set as the readable csrf_token cookie)."""

    csrf_token: str = Field(serialization_alias="csrfToken")


class OkOut(_Out):
    ok: bool = True


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error answers a route gives, all shaped {"error": "..."}."""
    return {status: {"model": ErrorOut} for status in statuses}
