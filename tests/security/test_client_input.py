"""No 500 for client input: NUL, bad UTF-8, huge values and `..` in every path parameter of /api and /media;
a fuzz of /_upload.

Requests go out byte for byte (no client-side normalization), with and without alice's session; every answer
must be below 500 and carry a JSON body with "error".
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security import raw_http
from tests.security.world import UPLOAD_HANDLER, World, upload_rows

pytestmark = pytest.mark.e2e

HOSTILE = {
    "NUL": "%00",
    "digits then NUL": "1%00",
    "bad UTF-8": "%FF%FE",
    "10,000 chars": "a" * 10_000,
    "dot-dot": "..",
}


def routes(world: World) -> list[tuple[str, str]]:
    """(method, target with {x} for the hostile value): every path parameter of the API and media routes."""
    production = world.alice_production
    return [
        ("GET", "/api/exports/{x}/hls-status"),
        ("POST", "/api/exports/{x}/prep-hls"),
        ("GET", "/media/hls/{x}/master.m3u8"),
        ("GET", f"/media/hls/{production}/{{x}}"),
        ("GET", f"/media/hls/{production}/v0/{{x}}.ts"),
        ("GET", f"/media/hls/{production}/{{x}}/index.m3u8"),
    ]


def problem(world: World, method: str, target: str, signed_in: bool) -> str | None:
    """What is wrong with the answer to this request, or None when it is a clean JSON error below 500."""
    headers = {"Cookie": world.alice.cookie, "X-CSRF-Token": world.alice.csrf} if signed_in else {}
    answer = raw_http.request(world.url, method, target, headers=headers)
    if answer is None:
        return "no answer"
    if answer.status >= 500:
        return f"{answer.status} {answer.body[:80]!r}"
    if not answer.json_error():
        return f"{answer.status} without a JSON error body: {answer.body[:60]!r}"
    return None


def test_hostile_path_parameters_never_yield_a_500(world: World) -> None:
    problems, rows = [], upload_rows(world.app)
    for method, template in routes(world):
        for name, value in HOSTILE.items():
            target = template.replace("{x}", value)
            for signed_in in (True, False):
                found = problem(world, method, target, signed_in)
                if found:
                    who = "alice" if signed_in else "no cookie"
                    problems.append(f"{method} {template} with {name} ({who}): {found}")
    assert problems == [], f"{len(problems)} bad answers:\n" + "\n".join(problems)
    assert upload_rows(world.app) == rows
    assert world.alice.status(world.alice_exports["ready"]).json()["state"] == "ready"


def test_nul_inside_a_segment_name_is_not_a_500(world: World) -> None:
    target = f"/media/hls/{world.alice_production}/v0/seg000.ts%00.m3u8"
    assert problem(world, "GET", target, signed_in=True) is None


@given(
    token=st.one_of(st.just(""), st.text(max_size=60), st.uuids().map(str)),
    handler=st.one_of(st.just(UPLOAD_HANDLER), st.text(max_size=80)),
    content_type=st.one_of(st.just("multipart/form-data; boundary=x"), st.text(max_size=80)),
    body=st.binary(max_size=2048),
    signed_in=st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_upload_endpoint_never_500s(
    world: World, token: str, handler: str, content_type: str, body: bytes, signed_in: bool
) -> None:
    """A fuzz of /_upload's headers and body (the route schemathesis cannot see): never a 5xx, nothing stored."""
    rows = upload_rows(world.app)
    headers = {
        "Reflex-Client-Token": token,
        "Reflex-Event-Handler": handler,
        "Content-Type": content_type,
        "Origin": world.url,
    }
    headers = {
        k: v.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace("\n", " ")
        for k, v in headers.items()
    }
    if signed_in:
        headers["Cookie"] = world.alice.cookie
    answer = raw_http.request(world.url, "POST", "/_upload", headers=headers, body=body, timeout=30)
    assert answer is not None and answer.status < 500, answer
    assert upload_rows(world.app) == rows
