"""Every row of the state derivation (docs/api.md), through the one function that derives it."""

from __future__ import annotations

from datetime import UTC

import pytest

from exports_app.models import MediaJob, Production
from exports_app.services.hls_status import DETAIL_MAX, derive_hls_status, short_detail


def production(master: str | None = None) -> Production:
    return Production(id=7, user_id=1, upload_id=3, hls_master_uri=master)


def job(status: str, error: str | None = None, percent: int = 0, phase: str | None = None) -> MediaJob:
    return MediaJob(
        id=1,
        production_id=7,
        provider="local",
        status=status,
        error_message=error,
        percent=percent,
        phase=phase,
        idempotency_token="t",
    )


@pytest.mark.parametrize(
    ("prod", "latest", "state", "detail"),
    [
        (None, None, "not_ready", None),  # 1. no production
        (None, job("succeeded"), "not_ready", None),
        (production("hls/7/master.m3u8"), job("succeeded"), "ready", None),  # 2.
        (
            production(None),
            job("succeeded"),
            "failed",
            "The transcode finished without an HLS master playlist.",
        ),  # succeeded needs a master
        (production(), job("queued"), "in_progress", None),  # 3.
        (production(), job("submitted"), "in_progress", None),
        (production(), job("running", percent=40, phase="TRANSCODING"), "in_progress", None),
        (
            production(),
            job("failed", "Invalid data found when processing input"),
            "failed",
            "Invalid data found when processing input",
        ),  # 4.
        (production(), job("canceled"), "failed", "The transcode was canceled."),
        (production(), job("timed_out"), "failed", "The transcode timed out."),
        (production(), job("failed"), "failed", "The transcode failed."),
        (production(), None, "not_ready", None),  # 5. (prep writes its queued job with it: that is rule 3)
    ],
)
def test_derivation(prod, latest, state, detail) -> None:  # type: ignore[no-untyped-def]
    status = derive_hls_status(prod, latest)
    assert status.state == state
    assert status.detail == detail
    assert status.production_id == (prod.id if prod else None)


def test_ready_has_url_and_in_progress_has_percent() -> None:
    ready = derive_hls_status(production("hls/7/master.m3u8"), job("succeeded"))
    assert ready.hls_url == "/media/hls/7/master.m3u8" and ready.percent == 100
    running = derive_hls_status(production(), job("running", percent=42, phase="TRANSCODING"))
    assert (running.percent, running.phase, running.hls_url) == (42, "TRANSCODING", None)


def test_api_shape_keeps_spec_names() -> None:
    from exports_app.api.schemas import HlsStatusOut

    body = HlsStatusOut.of(derive_hls_status(production(), job("failed", "boom"))).model_dump(by_alias=True)
    assert {"state", "productionId", "detail"} <= body.keys()
    assert body["state"] == "failed" and body["productionId"] == 7 and body["detail"] == "boom"


def test_detail_is_one_short_line() -> None:
    long = "error:\n" + "x" * 500
    detail = short_detail(long)
    assert detail is not None and len(detail) <= DETAIL_MAX and "\n" not in detail
    assert short_detail("") is None and short_detail(None) is None


def test_a_failed_status_says_which_attempt_failed_and_when() -> None:
    from datetime import datetime

    from exports_app.state.views import status_view

    finished = datetime(2026, 11, 25, 21, 4, 30, tzinfo=UTC)
    failed = job("failed", "Invalid data found when processing input")
    failed.attempt, failed.finished_at = 2, finished
    status = derive_hls_status(production(), failed)
    assert (status.attempt, status.failed_at) == (2, finished)
    view = status_view(status)
    assert view.attempt == "Attempt 2 failed at 21:04 UTC"
    assert view.detail == "Invalid data found when processing input"  # the detail itself keeps its meaning
    running = derive_hls_status(production(), job("running"))
    assert running.attempt is None and status_view(running).attempt == ""
