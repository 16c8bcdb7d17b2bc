"""Fuzz the API with schemathesis from its own OpenAPI document: no input ever gets a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from exports_app.api.app import create_api
from exports_app.services.auth import Member
from tests.conftest import PASSWORD, add_upload

schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_api())


@pytest.fixture
def signed_in(data_dir: Path, alice: Member, bob: Member) -> dict[str, str]:
    """Cookies and CSRF header of alice, with exports of both members in the database."""
    from fastapi.testclient import TestClient

    add_upload(alice)
    add_upload(bob)
    client = TestClient(create_api())
    client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    return dict(client.cookies)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, signed_in: dict[str, str]) -> None:
    response = case.call(cookies=signed_in, headers={"X-CSRF-Token": signed_in["csrf_token"]})
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_signed_out(case: schemathesis.Case, data_dir: Path) -> None:
    case.validate_response(case.call(), checks=[not_a_server_error])
