"""The operator's endpoints: /healthz (liveness), /readyz (readiness) and /metrics (Prometheus, when turned on).

None of them needs a sign-in and none says anything about members; /metrics answers only the bearer of
EXPORTS_METRICS_TOKEN, and is not there at all without one. /readyz tells anyone its verdict (the status code and
"ready" or "not ready"); what each check found (free bytes, errors) only that same bearer.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from exports_app import metrics
from exports_app.api.common import ApiError
from exports_app.config import get_settings
from exports_app.db import session_scope
from exports_app.domain import JobStatus
from exports_app.services import media_jobs, readiness
from exports_app.storage_faults import free_bytes

router = APIRouter(tags=["operations"], include_in_schema=False)

QUEUED_STATUSES = (
    JobStatus.QUEUED.value,
    JobStatus.SUBMITTED.value,
)  # waiting for a transcoder's worker: the queue's depth


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers HTTP (nothing else is checked, so a database outage restarts nothing)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when every check passes, else 503; to the metrics token's bearer, each check's findings."""
    found = readiness.checks()
    ready = all(check.ok for check in found.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready"}
    if _authorized(request, get_settings().metrics_token):
        body["checks"] = {name: {"ok": check.ok, "detail": check.detail} for name, check in found.items()}
    return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


class _StateCollector(Collector):
    """Gauges read at scrape time from the database and the disk, so every worker reports the same."""

    def collect(self) -> Iterator[Metric]:
        by_state = GaugeMetricFamily("exports_media_jobs", "Media jobs by status", labels=["status"])
        depth = GaugeMetricFamily("exports_media_queue_depth", "Media jobs waiting for a transcoder's worker")
        try:
            with session_scope() as session:
                counts = media_jobs.count_by_status(session=session)
        except Exception:  # the database is away: /readyz says so; the rest of the scrape still serves
            counts = {}
        for status, count in counts.items():
            by_state.add_metric([status], count)
        if counts:
            depth.add_metric([], sum(counts.get(s, 0) for s in QUEUED_STATUSES))
        yield by_state
        yield depth
        free = GaugeMetricFamily("exports_data_dir_free_bytes", "Free bytes in EXPORTS_DATA_DIR's file system")
        minimum = GaugeMetricFamily("exports_data_dir_min_free_bytes", "EXPORTS_MIN_FREE_BYTES")
        try:
            free.add_metric([], free_bytes(get_settings().data_dir))
        except OSError:
            pass
        minimum.add_metric([], get_settings().min_free_bytes)
        yield free
        yield minimum


def _authorized(request: Request, token: str) -> bool:
    """Whether the request carries the operator's bearer token (never, while none is set)."""
    sent = request.headers.get("authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    token = get_settings().metrics_token
    if not token:
        raise ApiError(404, "Not found.")  # off unless the operator turns it on
    if not _authorized(request, token):
        raise ApiError(401, "A bearer token is required.")
    registry = CollectorRegistry()
    if metrics.multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker's counters, summed
        registry.register(_StateCollector())
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    registry.register(_StateCollector())
    return Response(generate_latest(registry) + generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
