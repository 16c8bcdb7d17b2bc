"""The status API's one statement on each database: every table read through its own key, and, on PostgreSQL,
prepared once per connection rather than planned on every request."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlmodel import select

from exports_app.api.schemas import HlsStatusOut
from exports_app.db import get_engine, session_scope
from exports_app.domain import JobStatus, utcnow
from exports_app.models import MediaJob, Production, Upload
from exports_app.services import auth, productions, queries
from exports_app.services.auth import Member
from tests.support.query_plans import explain, summary
from tests.support.records import add_upload

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`


def with_jobs(member: Member, statuses: list[JobStatus]) -> int:
    """An export of member whose production has these jobs, oldest first; returns the export's id."""
    upload_id = add_upload(member)
    with session_scope() as s:
        production = Production(user_id=member.id, upload_id=upload_id)
        s.add(production)
        s.flush()
        assert production.id is not None
        upload = s.get(Upload, upload_id)
        assert upload is not None
        upload.create_video_production_id = production.id
        for attempt, status in enumerate(statuses, 1):
            s.add(
                MediaJob(
                    production_id=production.id,
                    provider="local",
                    status=status.value,
                    attempt=attempt,
                    idempotency_token=f"{upload_id}-{attempt}",
                )
            )
    return upload_id


def test_each_table_is_read_through_its_own_key(alice: Member, bob: Member) -> None:
    """The session by its token, the export by its id, the production and the newest job by theirs: no read that
    grows with the tables (a member's exports, a production's jobs), whatever statistics the planner has.

    Before: the jobs were joined by production and the newest kept in WHERE, a subquery per job."""
    for _ in range(20):  # more than one row of each, so that a lookup is not a scan of a one-row table
        add_upload(alice)
        with_jobs(bob, [JobStatus.SUCCEEDED])
    upload_id = with_jobs(alice, [JobStatus.FAILED, JobStatus.CANCELED, JobStatus.RUNNING])
    with session_scope() as s:
        token = auth.start_session(session=s, member=alice, days=1).token
    params = {"token_hash": auth.token_hash(token), "now": utcnow(), "upload_id": upload_id}
    with get_engine().connect() as connection:
        if connection.dialect.name == "postgresql":
            # Its few rows would rather be scanned: the question here is whether a key serves each read.
            connection.exec_driver_sql("SET enable_seqscan = off")
        reads = explain(connection, queries.STATUS_BY_SESSION, params)
        status = productions.status_for_session(connection=connection, token=token, upload_id=upload_id)
    # "newer" and "newer_hd" are max(id) of the production's jobs (that make it ready; its HD passes), each one probe
    # of (production_id, id); MariaDB answers them while planning and lists no read for them.
    by_key = [read for read in reads if not read.table.startswith("newer")]
    assert {read.table for read in by_key} == {"sessions", "uploads", "productions", "media_jobs", "hd"}, summary(reads)
    assert all(read.how == "key" for read in by_key), summary(reads)
    assert all(read.how == "index" for read in reads if read.table.startswith("newer")), summary(reads)
    assert status.state == "in_progress"  # the newest of the three jobs


@pytest.mark.parametrize("statement", ["EXPORT_PAGE", "MEMBERS_EXPORT_BY_ID"])
def test_the_list_and_the_modal_read_each_production_and_newest_job_by_its_key(
    alice: Member, bob: Member, statement: str
) -> None:
    """The /exports list and the modal's lookup (and the push's statuses, the same join: queries.with_status) are
    made of the same pieces as the status API's statement: each production and its newest job through their primary
    keys, whatever the number of jobs. Before: the jobs were joined by production and the newest kept in WHERE."""
    ids = [with_jobs(member, [JobStatus.FAILED, JobStatus.SUCCEEDED]) for member in (alice, bob) for _ in range(10)]
    params = {"member_id": alice.id, "limit": 100, "offset": 0, "upload_id": ids[0]}
    with get_engine().connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")
        reads = explain(connection, getattr(queries, statement), params)
    by_key = [read for read in reads if read.table in ("productions", "media_jobs")]
    assert {read.table for read in by_key} == {"productions", "media_jobs"}, summary(reads)
    assert all(read.how == "key" for read in by_key), summary(reads)


def test_someone_elses_export_with_a_production_is_404(alice_client: TestClient, bob: Member) -> None:
    """Ownership is tested on the row the id found (no longer in the join): a foreign export stays unseen."""
    bobs = with_jobs(bob, [JobStatus.SUCCEEDED])
    response = alice_client.get(f"/api/exports/{bobs}/hls-status")
    assert response.status_code == 404 and response.json() == {"error": "Export not found."}


def test_the_body_is_the_bytes_fastapi_would_send(alice_client: TestClient, alice: Member) -> None:
    """The route returns the model's JSON itself (cheaper): the same bytes as FastAPI's JSONResponse of the model,
    datetimes and a non-ASCII detail included."""
    upload_id = with_jobs(alice, [JobStatus.FAILED])
    with session_scope() as s:
        job = s.exec(select(MediaJob)).one()
        job.error_message, job.finished_at = "Échec « ffmpeg » ✗", utcnow()
        s.add(job)
    response = alice_client.get(f"/api/exports/{upload_id}/hls-status")
    with session_scope() as s:
        model = HlsStatusOut.of(productions.export_status(session=s, member=alice, upload_id=upload_id))
    assert response.headers["content-type"] == "application/json"
    assert response.content == JSONResponse(jsonable_encoder(model)).body
    assert response.json()["detail"] == "Échec « ffmpeg » ✗" and response.json()["failedAt"].endswith("Z")


def test_postgresql_prepares_the_status_statement_once_per_connection(alice_client: TestClient, alice: Member) -> None:
    """psycopg prepares a statement on its fifth run on a connection, and forgets every prepared statement at a
    rollback: run in a transaction, as before, the status statement was parsed and planned on every request."""
    if get_engine().dialect.name != "postgresql":
        pytest.skip("prepared statements kept across requests are PostgreSQL's (psycopg's) concern")
    upload_id = with_jobs(alice, [JobStatus.SUCCEEDED])
    for _ in range(6):
        assert alice_client.get(f"/api/exports/{upload_id}/hls-status").status_code == 200
    with get_engine().connect() as connection:  # the one pooled connection the requests above used, one after another
        prepared = connection.execute(
            sa.text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM sessions%'")
        ).scalars()
        assert len(list(prepared)) == 1
