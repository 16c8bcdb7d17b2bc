"""Fuzz the API (and /media) with schemathesis from its own OpenAPI document: no input ever gets a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from exports_app.api.app import create_api
from exports_app.api.guard import Guard
from exports_app.services.auth import Member
from tests.support.api_client import sign_in
from tests.support.records import add_upload

pytestmark = pytest.mark.server_db  # re-run on MariaDB and PostgreSQL by `make test`

# The document is off by default (EXPORTS_API_DOCS); the fuzz reads it from an API that serves it.
schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_api(docs=True))


@pytest.fixture
def signed_in(data_dir: Path, alice: Member, bob: Member) -> dict[str, str]:
    """Cookies and CSRF header of alice, with exports of both members in the database."""
    from fastapi.testclient import TestClient

    add_upload(alice)
    add_upload(bob)
    return dict(sign_in(TestClient(create_api()), "alice").cookies)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case[Any], signed_in: dict[str, str]) -> None:
    response = case.call(cookies=signed_in, headers={"X-CSRF-Token": signed_in["csrf_token"]})
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_signed_out(case: schemathesis.Case[Any], data_dir: Path) -> None:
    case.validate_response(case.call(), checks=[not_a_server_error])


# The same operations through the guard that stands in front of the app, as `make run` serves them.
guarded = schemathesis.openapi.from_asgi("/api/openapi.json", Guard(create_api(docs=True)))


@guarded.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_through_the_guard(case: schemathesis.Case[Any], signed_in: dict[str, str]) -> None:
    response = case.call(cookies=signed_in, headers={"X-CSRF-Token": signed_in["csrf_token"]})
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.parametrize(
    "value", ["%00", "1%00", "%FF%FE", "x" * 10_000, "..", "%2e%2e", "-1", "99999999999999999999", "3000000000"]
)
def test_odd_path_values_never_500(value: str, signed_in: dict[str, str], alice: Member, data_dir: Path) -> None:
    """Every path parameter, with and without the guard, signed in or not: never a 5xx, always a JSON error."""
    from fastapi.testclient import TestClient

    from exports_app.db import session_scope
    from exports_app.models import Production

    with session_scope() as session:  # a production of alice's with HLS on disk: the paths reach storage
        production = Production(user_id=alice.id, upload_id=add_upload(alice), hls_master_uri="hls/1/master.m3u8")
        session.add(production)
        session.flush()
        pid = production.id
    segment = data_dir / "hls" / "1" / "v0" / "seg000.ts"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(b"\x47" * 188)
    paths = [
        f"/api/exports/{value}/hls-status",
        f"/media/hls/{value}/master.m3u8",
        f"/media/hls/{pid}/{value}",
        f"/media/hls/{pid}/v0/seg000.ts{value}.m3u8",
    ]
    for app in (create_api(), Guard(create_api())):
        for cookies in (signed_in, {}):
            client = TestClient(app, cookies=cookies, headers={"X-CSRF-Token": signed_in["csrf_token"]})
            for path in paths:
                response = client.get(path)
                assert response.status_code < 500 and "error" in response.json(), (path, response.text)
            response = client.post(f"/api/exports/{value}/prep-hls")
            assert response.status_code < 500 and "error" in response.json()
