"""The Prometheus metrics the app keeps (prometheus-client); labels carry route templates and codes, never ids.

Every label value comes from a fixed set, whatever a client sends: a route's template (or "other"), one of the
standard HTTP methods (or "other"), a status class ("2xx"). A client that made up methods grew one series per
method before (320 requests: 165 series to 485).

Counters and histograms live in each worker; under gunicorn with PROMETHEUS_MULTIPROC_DIR set (scripts/serve.sh
does when metrics are on) each worker writes its own files and /metrics sums them. Gauges read from the
database or the disk (jobs by state, queue depth, free space) are collected at scrape time instead
(api/ops_routes.py), so every worker reports the same numbers.
"""

from __future__ import annotations

import atexit
import os

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client import multiprocess as _multiprocess

# Seconds: an API call is milliseconds, a page a little more; a transcode minutes.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_TRANSCODE_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)

HTTP_REQUESTS = Counter(
    "exports_http_requests_total",
    "HTTP requests answered, by route template, method and status class",
    ["route", "method", "status"],
)
# RFC 9110's methods and PATCH (RFC 5789); a server takes any token as a method, so every other one is "other".
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
HTTP_SECONDS = Histogram(
    "exports_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["route"],
    buckets=_HTTP_BUCKETS,
)
JOBS_FINISHED = Counter(
    "exports_media_jobs_finished_total", "Media jobs that ended, by final status", ["provider", "status"]
)
JOB_FAILURES = Counter(
    "exports_media_job_failures_total",
    "Media jobs that ended without HLS, by reason (error code)",
    ["provider", "reason"],
)
TRANSCODE_SECONDS = Histogram(
    "exports_transcode_duration_seconds",
    "A media job's time from its start (its submit when the start went unseen) to its end",
    ["provider", "status"],
    buckets=_TRANSCODE_BUCKETS,
)
JOBS_SUBMITTED = Counter("exports_media_jobs_submitted_total", "Media jobs handed to the transcoder", ["provider"])
SUBMITS_DEFERRED = Counter(
    "exports_media_job_submits_deferred_total",
    "Submits put off to the next tick (throttled, provider or network down)",
    ["provider"],
)
PUSH_SECONDS = Histogram(
    "exports_push_duration_seconds", "Time to push a tick's status changes to the members' tabs", buckets=_HTTP_BUCKETS
)
# livesum: the open sockets of every live worker, added up (a worker that exits takes its own away).
CONNECTED_TABS = Gauge(
    "exports_connected_tabs", "Open websocket connections of the pages (tabs)", multiprocess_mode="livesum"
)
TICK_FAILURES = Counter("exports_refresh_tick_failures_total", "Refresh ticks that failed (the database away)")


def multiprocess() -> bool:
    """True when several worker processes share their metrics through PROMETHEUS_MULTIPROC_DIR."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def method_label(method: str) -> str:
    """A request's method as a label: one of the standard methods, or "other"."""
    return method if method in STANDARD_METHODS else "other"


def status_label(status: int) -> str:
    """An HTTP status as a label: its class ("2xx" … "5xx"), or "other" for anything outside 100–599."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def reason(error_code: str | None) -> str:
    """A failure's label: the error code without any number that could grow the label set without end."""
    code = (error_code or "unknown")[:48]
    return "".join("N" if ch.isdigit() else ch for ch in code)


if multiprocess():
    # A worker that exits takes its live gauges (open sockets) out of the sum; a killed one's stay until restart.
    atexit.register(_multiprocess.mark_process_dead, os.getpid())
