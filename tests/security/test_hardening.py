"""Hardening: the pages' CSP limits scripts, the API's map and the health details are private, the demo
password is not in every start's log.

Before the fix: the CSP was `frame-ancestors 'none'` only; /api/docs and /api/openapi.json answered 200 to
anyone; /_health answered {"status": true, "db": true}; every start printed the demo password.
"""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from tests.security.world import World

pytestmark = pytest.mark.e2e

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


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
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts, f"{path}: inline script {body[:60]!r} is not allowed"
    assert policy.get("object-src") == ["'none'"] and policy.get("base-uri") == ["'none'"]
    assert policy.get("frame-ancestors") == ["'none'"]


@pytest.mark.parametrize("path", ["/api/docs", "/api/openapi.json"])
def test_the_api_map_is_not_public(world: World, path: str) -> None:
    for client in (httpx.Client(base_url=world.url, timeout=30), world.alice.http):
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
