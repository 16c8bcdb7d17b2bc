"""Headers: pages and the API forbid framing, sniffing and cross-origin referrers."""

from __future__ import annotations

import pytest

from tests.security.world import World

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("path", ["/login", "/exports", "/api/auth/me"])
def test_security_headers(world: World, path: str) -> None:
    answer = world.alice.http.get(path, follow_redirects=True)
    assert answer.status_code == 200, answer.status_code
    headers = answer.headers
    missing = []
    if headers.get("x-content-type-options", "").lower() != "nosniff":
        missing.append("X-Content-Type-Options: nosniff")
    if headers.get("referrer-policy", "").lower() != "same-origin":
        missing.append("Referrer-Policy: same-origin")
    csp = headers.get("content-security-policy", "").lower()
    if "frame-ancestors 'none'" not in csp and headers.get("x-frame-options", "").upper() != "DENY":
        missing.append("Content-Security-Policy: frame-ancestors 'none' (or X-Frame-Options: DENY)")
    assert missing == [], f"GET {path} lacks {missing}; it sent {dict(headers)}"
