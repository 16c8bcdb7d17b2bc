"""Operations against the app as `make run` starts it: /healthz, /readyz, /metrics after a prep, request ids in
JSON logs, and the database (a private PostgreSQL) stopped and started again while a job runs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.support.app_process import start_app
from tests.support.clips import make_clip
from tests.support.http import app_client
from tests.support.metrics import sample
from tests.support.postgres_server import PostgreSQL

pytestmark = pytest.mark.e2e

TOKEN = "an-operators-scrape-token"
PASSWORD = "correct horse battery"
UNAVAILABLE = {"error": "The service is temporarily unavailable. Try again later."}


def wait_for(what: str, check: Callable[[], object], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.5)


def test_operations_and_a_database_outage_mid_job(tmp_path_factory: pytest.TempPathFactory) -> None:
    data_dir = tmp_path_factory.mktemp("ops-data")
    clip = make_clip(data_dir.parent / "ops-clip.mp4", seconds=12.0, width=1280, height=720)
    with PostgreSQL() as server:
        url = server.create("ops")
        app = start_app(
            data_dir,
            {
                "EXPORTS_DATABASE_URL": url,
                "EXPORTS_METRICS_TOKEN": TOKEN,
                "EXPORTS_LOG_FORMAT": "json",
                "EXPORTS_REFRESH_SECONDS": "1",
                "EXPORTS_SKIP_SEED": "1",
            },
        )
        try:
            app.cli("user", "create", "olga", "--password", PASSWORD)
            upload_id = app.cli("export", "import", "--user", "olga", str(clip))
            client = app_client(base_url=app.url, timeout=30)
            scrape = {"Authorization": f"Bearer {TOKEN}"}

            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").json() == {"status": "ready"}  # the verdict only, to anyone
            assert client.get("/metrics").status_code == 401
            login = client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD})
            assert login.status_code == 200
            client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
            request_id = login.headers["x-request-id"]
            before = client.get("/metrics", headers=scrape).text

            assert client.post(f"/api/exports/{upload_id}/prep-hls").json()["state"] == "in_progress"
            wait_for(
                "the job running", lambda: client.get(f"/api/exports/{upload_id}/hls-status").json().get("percent") or 0
            )
            server.stop()  # the database goes away with the transcode under way
            assert client.get("/readyz").json() == {"status": "not ready"}
            ready = client.get("/readyz", headers=scrape)
            assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
            for answer in (
                client.get(f"/api/exports/{upload_id}/hls-status"),
                client.get("/api/auth/me"),
                client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD}),
            ):
                assert (answer.status_code, answer.json()) == (503, UNAVAILABLE), answer.text
                assert answer.headers["retry-after"]
            wait_for(
                "a tick failing",
                lambda: sample(client.get("/metrics", headers=scrape).text, "exports_refresh_tick_failures_total") >= 1,
            )
            server.start()
            wait_for(  # a 720p source: ready with its fast pass, then its HD pass's rungs are added
                "both passes done",
                lambda: client.get(f"/api/exports/{upload_id}/hls-status").json().get("hdState") == "ready",
            )
            assert client.get(f"/api/exports/{upload_id}/hls-status").json()["state"] == "ready"
            with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
                jobs = conn.execute("SELECT pass_name, status, attempt FROM media_jobs ORDER BY id").fetchall()
            assert jobs == [("fast", "succeeded", 1), ("hd", "succeeded", 1)], "no job lost or made twice"

            after = client.get("/metrics", headers=scrape).text
            done = {"provider": "local", "status": "succeeded"}
            assert (
                sample(after, "exports_media_jobs_finished_total", **done)
                == sample(before, "exports_media_jobs_finished_total", **done) + 2
            )
            assert sample(after, "exports_media_jobs", status="succeeded") == 2
            assert (
                sample(
                    after,
                    "exports_http_requests_total",
                    route="/api/exports/{upload_id}/prep-hls",
                    method="POST",
                    status="2xx",
                )
                == 1
            )
            assert sample(after, "exports_http_requests_total", route="/api/auth/me", method="GET", status="5xx") == 1
            assert not re.search(r'route="[^"]*/\d+', after), "no ids in labels"
        finally:
            app.stop()
    lines = [json.loads(line) for line in Path(app.log).read_text().splitlines() if line.startswith('{"time"')]
    assert any(line.get("request_id") == request_id and line.get("route") == "/api/auth/login" for line in lines)
    assert any(line["message"].startswith("database unavailable") for line in lines)
