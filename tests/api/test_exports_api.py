"""The exports API: status and prep for the owner only; CSRF; malformed ids; idempotent prep."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exports_app.api.app import create_api
from exports_app.db import session_scope
from exports_app.domain import utcnow
from exports_app.models import MediaJob, Production
from exports_app.services.auth import Member
from tests.support.records import add_upload

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def test_status_of_a_new_export_is_not_ready(alice_client: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    response = alice_client.get(f"/api/exports/{upload_id}/hls-status")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "not_ready" and body["productionId"] is None and body["detail"] is None


def test_prep_creates_one_production_and_job_and_is_idempotent(alice_client: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    first = alice_client.post(f"/api/exports/{upload_id}/prep-hls")
    assert first.status_code == 200
    assert first.json()["state"] == "in_progress" and isinstance(first.json()["productionId"], int)
    second = alice_client.post(f"/api/exports/{upload_id}/prep-hls")
    assert second.json() == first.json()
    status = alice_client.get(f"/api/exports/{upload_id}/hls-status").json()
    assert status["state"] == "in_progress" and status["productionId"] == first.json()["productionId"]
    with session_scope() as s:
        assert len(s.query(Production).all()) == 1 and len(s.query(MediaJob).all()) == 1


def test_failed_prep_retries_with_a_new_production(alice_client: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    first = alice_client.post(f"/api/exports/{upload_id}/prep-hls").json()
    with session_scope() as s:
        job = s.query(MediaJob).one()
        job.status, job.error_message, job.finished_at = "failed", "Invalid data found when processing input", utcnow()
        s.add(job)
    failed = alice_client.get(f"/api/exports/{upload_id}/hls-status").json()
    assert failed["state"] == "failed" and failed["detail"] == "Invalid data found when processing input"
    retry = alice_client.post(f"/api/exports/{upload_id}/prep-hls").json()
    assert retry["state"] == "in_progress" and retry["productionId"] != first["productionId"]
    with session_scope() as s:
        assert len(s.query(Production).all()) == 2  # the old production stays
        attempts = sorted(j.attempt for j in s.query(MediaJob).all())
        assert attempts == [1, 2]


@pytest.mark.parametrize("path", ["hls-status", "prep-hls"])
def test_other_members_exports_are_404(alice_client: TestClient, bob: Member, alice: Member, path: str) -> None:
    bobs = add_upload(bob)
    call = alice_client.get if path == "hls-status" else alice_client.post
    response = call(f"/api/exports/{bobs}/{path}")
    assert response.status_code == 404 and response.json() == {"error": "Export not found."}
    with session_scope() as s:
        assert s.query(Production).count() == 0


@pytest.mark.parametrize("upload_id", ["abc", "0", "-1", "1.5", "99999999999999999999999", "%20", "999"])
def test_malformed_or_missing_ids_are_404(alice_client: TestClient, alice: Member, upload_id: str) -> None:
    response = alice_client.get(f"/api/exports/{upload_id}/hls-status")
    assert response.status_code in (404, 422) and "error" in response.json()
    assert alice_client.post(f"/api/exports/{upload_id}/prep-hls").status_code in (404, 422)


def test_non_exports_and_deleted_exports_are_404(alice_client: TestClient, alice: Member) -> None:
    source = add_upload(alice, role="source")
    deleted = add_upload(alice, deleted_at=utcnow())
    for upload_id in (source, deleted):
        assert alice_client.get(f"/api/exports/{upload_id}/hls-status").status_code == 404
        assert alice_client.post(f"/api/exports/{upload_id}/prep-hls").status_code == 404


def test_signed_out_is_401(api: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    assert api.get(f"/api/exports/{upload_id}/hls-status").status_code == 401
    assert api.post(f"/api/exports/{upload_id}/prep-hls").status_code == 401


def test_prep_needs_csrf_and_same_origin(alice_client: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    token = alice_client.headers.pop("X-CSRF-Token")
    missing = alice_client.post(f"/api/exports/{upload_id}/prep-hls")
    assert missing.status_code == 403 and "error" in missing.json()
    wrong = alice_client.post(f"/api/exports/{upload_id}/prep-hls", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    foreign = alice_client.post(
        f"/api/exports/{upload_id}/prep-hls", headers={"X-CSRF-Token": token, "Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    same = alice_client.post(
        f"/api/exports/{upload_id}/prep-hls", headers={"X-CSRF-Token": token, "Origin": "http://testserver"}
    )
    assert same.status_code == 200
    with session_scope() as s:
        assert s.query(MediaJob).count() == 1


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs"])
def test_api_docs_are_off_unless_enabled(data_dir: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    from exports_app.config import get_settings

    assert TestClient(create_api()).get(path).status_code == 404
    monkeypatch.setenv("EXPORTS_API_DOCS", "1")
    get_settings.cache_clear()
    assert TestClient(create_api()).get(path).status_code == 200
    get_settings.cache_clear()


def test_media_route_is_owner_only(alice_client: TestClient, bob_client: TestClient, alice: Member) -> None:
    upload_id = add_upload(alice)
    pid = alice_client.post(f"/api/exports/{upload_id}/prep-hls").json()["productionId"]
    assert alice_client.get(f"/media/hls/{pid}/master.m3u8").status_code == 404  # not ready yet
    assert bob_client.get(f"/media/hls/{pid}/master.m3u8").status_code == 404
    assert alice_client.get(f"/media/hls/{pid}/../../exports.db").status_code == 404


def test_openapi_shows_the_contract(data_dir: Path) -> None:
    """Typed response models: the document names the contract's keys and the JSON error shape."""
    document = TestClient(create_api(docs=True)).get("/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    status = schemas["HlsStatusOut"]
    assert {"state", "productionId", "detail"} <= set(status["properties"]) and "state" in status["required"]
    assert set(status["properties"]["state"]["enum"]) == {"not_ready", "in_progress", "ready", "failed"}
    assert {"productionId", "state"} <= set(schemas["PrepOut"]["properties"])
    operation = document["paths"]["/api/exports/{upload_id}/hls-status"]["get"]
    assert operation["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_status_is_one_query_and_a_revoked_or_expired_session_is_refused_at_once(
    alice_client: TestClient, alice: Member
) -> None:
    """The hot path: session and status in one round trip; nothing cached past a logout or an expiry."""
    import sqlalchemy as sa

    from exports_app.db import get_engine
    from exports_app.models import AuthSession

    upload_id = add_upload(alice)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(get_engine(), "before_cursor_execute", listener)
    try:
        assert alice_client.get(f"/api/exports/{upload_id}/hls-status").json()["state"] == "not_ready"
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", listener)
    assert len(statements) == 1

    with session_scope() as s:  # the session expires (e.g. EXPORTS_SESSION_DAYS passed)
        s.execute(sa.update(AuthSession).values(expires_at=utcnow()))
    assert alice_client.get(f"/api/exports/{upload_id}/hls-status").status_code == 401
    with session_scope() as s:
        s.execute(sa.update(AuthSession).values(expires_at=utcnow() + timedelta(days=1)))
    assert alice_client.get(f"/api/exports/{upload_id}/hls-status").status_code == 200
    alice_client.post("/api/auth/logout")
    refused = alice_client.get(f"/api/exports/{upload_id}/hls-status")
    assert refused.status_code == 401 and refused.json() == {"error": "Not signed in."}
