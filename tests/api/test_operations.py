"""The operator's endpoints through the API: /healthz, /readyz (its details to the metrics token only, also with
the database stopped), /metrics after a prep, and the request id in the answer and the JSON log line."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exports_app import config
from exports_app.api.app import create_api
from exports_app.api.observe import Observe
from exports_app.api.proxy_trust import ProxyTrust
from exports_app.db import session_scope
from exports_app.jobs.refresh import tick
from exports_app.logs import JsonFormatter
from exports_app.services import exports
from exports_app.services.auth import Member
from exports_app.transcode.factory import close_transcoder, get_transcoder
from tests.support.api_client import sign_in
from tests.support.clips import make_clip
from tests.support.database import alembic_config, app_pointed_at
from tests.support.metrics import sample
from tests.support.records import PASSWORD, make_member

TOKEN = "scrape-me-please"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


def served(trusted_proxies: str = "127.0.0.1,::1") -> TestClient:
    """The API as the app serves it: inside the request-id and metrics middleware, behind the server's proxy rule
    (the test client's address is "testclient": a proxy only when trusted_proxies names it)."""
    return TestClient(ProxyTrust(Observe(create_api()), trusted_proxies), base_url="http://testserver")


@pytest.fixture
def operator(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The metrics token set, and the header of its bearer."""
    monkeypatch.setenv("EXPORTS_METRICS_TOKEN", TOKEN)
    config.get_settings.cache_clear()
    return OPERATOR


def test_healthz_and_readyz(data_dir: Path, operator: dict[str, str]) -> None:
    client = served()
    assert client.get("/healthz").json() == {"status": "ok"}
    anonymous = client.get("/readyz")
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "ready"})
    ready = client.get("/readyz", headers=operator)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and set(body["checks"]) == {"database", "data_dir", "transcoder"}
    assert str(data_dir) not in ready.text  # no server paths


def test_readyz_reports_low_space(data_dir: Path, operator: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORTS_MIN_FREE_BYTES", str(2**62))
    config.get_settings.cache_clear()
    assert served().get("/readyz").json() == {"status": "not ready"}
    ready = served().get("/readyz", headers=operator)
    assert ready.status_code == 503
    check = ready.json()["checks"]["data_dir"]
    assert check["ok"] is False and "below EXPORTS_MIN_FREE_BYTES" in check["detail"]


def test_metrics_are_off_without_a_token_and_then_need_it(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = served()
    assert client.get("/metrics").status_code == 404
    monkeypatch.setenv("EXPORTS_METRICS_TOKEN", TOKEN)
    config.get_settings.cache_clear()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_move_after_a_prep(alice: Member, data_dir: Path, tmp_path: Path, operator: dict[str, str]) -> None:
    client = sign_in(served(), "alice")
    before = client.get("/metrics", headers=operator).text
    with session_scope() as s:
        upload_id = exports.import_export(
            session=s, member=alice, source=make_clip(tmp_path / "a.mp4", 2.0), title="Clip"
        ).id
    close_transcoder()
    try:
        assert client.post(f"/api/exports/{upload_id}/prep-hls").json()["state"] == "in_progress"
        deadline = time.monotonic() + 120
        while client.get(f"/api/exports/{upload_id}/hls-status").json()["state"] == "in_progress":
            assert time.monotonic() < deadline, "the prep never ended"
            tick(get_transcoder(), 3600)
            time.sleep(0.05)
    finally:
        close_transcoder()
    after = client.get("/metrics", headers=operator).text
    done = {"provider": "local", "status": "succeeded"}
    assert (
        sample(after, "exports_media_jobs_finished_total", **done)
        == sample(before, "exports_media_jobs_finished_total", **done) + 1
    )
    assert sample(after, "exports_transcode_duration_seconds_count", **done) >= 1
    assert sample(after, "exports_media_jobs_submitted_total", provider="local") >= 1
    assert sample(after, "exports_media_jobs", status="succeeded") == 1  # this database's jobs, read at scrape
    assert sample(after, "exports_media_queue_depth") == 0
    assert sample(after, "exports_data_dir_free_bytes") > 0
    route = {"route": "/api/exports/{upload_id}/prep-hls", "method": "POST", "status": "2xx"}
    assert sample(after, "exports_http_requests_total", **route) >= 1
    labels = re.findall(r'route="([^"]*)"', after)
    assert labels and not any(re.search(r"/\d+(/|$)", label) for label in labels), "no ids in labels"


def test_request_id_in_the_header_and_the_json_log(data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = served()
    with caplog.at_level(logging.INFO, logger="exports_app.access"):
        response = client.get("/api/auth/me")
        sent = {"X-Request-ID": "proxy-given-id-1"}
        kept = served(trusted_proxies="testclient").get("/healthz", headers=sent)
        not_kept = client.get("/healthz", headers=sent)
    request_id = response.headers["x-request-id"]
    assert response.status_code == 401 and re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert kept.headers["x-request-id"] == "proxy-given-id-1"  # from a trusted proxy
    assert re.fullmatch(r"[0-9a-f]{32}", not_kept.headers["x-request-id"])  # from anyone else
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "exports_app.access"]
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert mine and mine[0]["route"] == "/api/auth/me" and mine[0]["status"] == 401


def test_the_database_stopped_gives_503_and_readyz_says_so(
    tmp_path: Path, operator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A private PostgreSQL server stopped and started again: members get 503 in words, never 500."""
    from alembic import command

    from tests.support.postgres_server import PostgreSQL

    with PostgreSQL() as server:
        url = server.create("outage")
        command.upgrade(alembic_config(url), "head")
        (tmp_path / "data").mkdir()
        with app_pointed_at(monkeypatch, tmp_path / "data", url):
            make_member("dora")
            client = sign_in(served(), "dora")
            server.stop()
            ready = client.get("/readyz", headers=operator)
            assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
            for response in (
                client.get("/api/auth/me"),
                client.get("/api/exports/1/hls-status"),
                client.post("/api/auth/login", json={"username": "dora", "password": PASSWORD}),
            ):
                assert response.status_code == 503, response.text
                assert response.json() == {"error": "The service is temporarily unavailable. Try again later."}
                assert response.headers["retry-after"]
            server.start()
            assert client.get("/readyz").status_code == 200
            assert client.get("/api/auth/me").json()["member"]["username"] == "dora"
