"""Hardening: the pages' CSP limits scripts, the API's map and the health details are private, the demo
password is not in every start's log.

Before the fix: the CSP was `frame-ancestors 'none'` only; /api/docs and /api/openapi.json answered 200 to
anyone; /_health answered {"status": true, "db": true}; every start printed the demo password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

from exports_app.frontend_bundle import SCRIPT_HASHES_FILE
from tests.security.world import World
from tests.support.http import app_client

pytestmark = pytest.mark.e2e

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def hash_source(script: str) -> str:
    """How a CSP names an inline script: 'sha256-' and the base64 of its text's SHA-256."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


def policy_of(answer: httpx.Response) -> dict[str, list[str]]:
    parts = [part.split() for part in answer.headers.get("content-security-policy", "").split(";") if part.strip()]
    return {part[0].lower(): part[1:] for part in parts}


@pytest.mark.parametrize("path", ["/login", "/exports"])
def test_pages_run_only_their_own_scripts(world: World, path: str) -> None:
    answer = world.alice.http.get(path, follow_redirects=True)
    assert answer.status_code == 200 and "<script" in answer.text
    policy = policy_of(answer)
    scripts = policy.get("script-src") or policy.get("default-src") or []
    assert scripts, f"{path}: no script-src in {answer.headers.get('content-security-policy')!r}"
    assert "'unsafe-inline'" not in scripts and "*" not in scripts and "data:" not in scripts
    for body in INLINE_SCRIPT.findall(answer.text):  # each inline script the page needs is allowed by its hash
        assert hash_source(body) in scripts, f"{path}: inline script {body[:60]!r} is not allowed"
    assert policy.get("object-src") == ["'none'"] and policy.get("base-uri") == ["'none'"]
    assert policy.get("frame-ancestors") == ["'none'"]


def test_the_hashes_are_the_builds_record_of_its_pages(world: World) -> None:
    """Made once, when the bundle was built (frontend_bundle.mark_built): the record beside the app's build names
    every inline script of every page file it serves, and a page's policy names what the record holds."""
    web = Path(world.app.env["REFLEX_WEB_WORKDIR"])
    recorded = json.loads((web / SCRIPT_HASHES_FILE).read_text())["script-src"]
    pages = sorted((web / "build" / "client").rglob("*.html"))
    assert pages and recorded
    for page in pages:
        for body in INLINE_SCRIPT.findall(page.read_text()):
            assert hash_source(body) in recorded, f"{page.name}: inline script {body[:60]!r} is not in the record"
    served = policy_of(world.alice.http.get("/login", follow_redirects=True))["script-src"]
    assert [source for source in served if source.startswith("'sha256-")] == recorded


@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_the_api_map_is_not_public(world: World, path: str) -> None:
    for client in (app_client(base_url=world.url, timeout=30), world.alice.http):
        answer = client.get(path)
        assert answer.status_code == 404, f"{path} answered {answer.status_code}"
        assert "openapi" not in answer.text.lower() and "swagger" not in answer.text.lower()


def test_health_shows_no_backend_details(world: World) -> None:
    answer = httpx.get(f"{world.url}/_health", timeout=30)
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


def test_the_demo_password_is_printed_only_when_it_is_made(world: World) -> None:
    """serve.sh seeds the demo on every start: a later start's log must not carry the password."""
    password = world.app.env.get("EXPORTS_DEMO_PASSWORD") or (world.data_dir / "demo-password.txt").read_text().strip()
    again = world.app.cli("seed-demo")
    assert password not in again, "a start that did not create the demo member printed its password"
    assert password in world.app.log.read_text(errors="replace"), "the first start never told the password"
