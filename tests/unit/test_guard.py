"""The ASGI guard in front of the app: origins, tab tokens, upload session and size, bad paths, headers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from exports_app import config as app_config
from exports_app.api.guard import Guard, Message, Receive, Scope, Send
from exports_app.api.origins import origin_allowed, same_origin
from exports_app.frontend_bundle import mark_built
from exports_app.services.auth import Member
from tests.support.event_loop import run_in_own_loop
from tests.support.records import PASSWORD

TAB = "0f8fad5b-d9cb-469f-a165-70867728950e"
BOBS_TAB = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
HANDLER = "state.export_modal_state.upload"
OWNERS = {TAB: "member-1", BOBS_TAB: "member-2"}  # alice is member 1 in the test database


async def tab_owner(tab: str) -> str | None:
    return OWNERS.get(tab)


@pytest.mark.parametrize(
    ("origin", "host", "expected"),
    [
        ("http://127.0.0.1:3000", "127.0.0.1:3000", True),
        ("http://localhost:3000", "localhost:3000", True),
        ("http://LOCALHOST:3000", "localhost:3000", True),
        ("http://127.0.0.1:3001", "127.0.0.1:3000", False),  # another port is another origin
        ("http://evil.example", "127.0.0.1:3000", False),
        ("null", "127.0.0.1:3000", False),
        ("https://exports.example", "exports.example", True),  # behind a TLS proxy that passes Host on
        ("http://exports.example", "exports.example", True),
        ("https://exports.example:8443", "exports.example", False),
        ("http://exports.example.evil", "exports.example", False),
        ("http://127.0.0.1:3000/path", "127.0.0.1:3000", False),
        ("http://127.0.0.1:99999", "127.0.0.1:3000", False),
    ],
)
def test_same_origin(origin: str, host: str, expected: bool) -> None:
    assert same_origin(origin, host) is expected


def test_allowed_origins_add_to_the_own_one() -> None:
    assert origin_allowed(None, "a.example", [])
    assert origin_allowed("https://app.example", "api.example", ["https://app.example"])
    assert not origin_allowed("http://app.example", "api.example", ["https://app.example"])


def test_a_wildcard_origin_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPORTS_ALLOWED_ORIGINS", "*")
    app_config.get_settings.cache_clear()
    with pytest.raises(SystemExit, match="EXPORTS_ALLOWED_ORIGINS"):
        app_config.get_settings()
    app_config.get_settings.cache_clear()


# A prebuilt page as Reflex serves it: inline scripts (the theme, React Router's context) and a module script.
INLINE = (b"window.__reactRouterContext = {};", b'import "/assets/root.js";')
PAGE = (
    b"<html><head><script>" + INLINE[0] + b'</script><script src="/assets/app.js"></script>'
    b'<script type="module" async="">' + INLINE[1] + b"</script></head><body>hi</body></html>"
)


class Inner:
    """The app behind the guard: records what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.body_bytes = 0
        self.saw_origin: list[str | None] = []

    def app(self) -> Starlette:
        async def page(request: Request) -> PlainTextResponse:
            self.calls.append(request.url.path)
            return PlainTextResponse("page")

        async def upload(request: Request) -> JSONResponse:
            self.calls.append("upload")
            try:
                async for chunk in request.stream():
                    self.body_bytes += len(chunk)
            except Exception:  # the guard cut the body off: the app sees a disconnect
                return JSONResponse({"cut": True})
            return JSONResponse({"ok": True})

        async def event(socket: WebSocket) -> None:
            self.saw_origin.append(socket.headers.get("origin"))
            await socket.accept()
            await socket.send_text("hello")
            await socket.close()

        async def html(request: Request) -> Response:
            if request.headers.get("if-none-match") == '"v1"':
                return Response(status_code=304, headers={"etag": '"v1"'})
            gzipped = request.query_params.get("gzip") == "1"
            body = gzip.compress(PAGE) if gzipped else PAGE
            return Response(body, media_type="text/html", headers={"content-encoding": "gzip"} if gzipped else {})

        async def health(_: Request) -> JSONResponse:  # what Reflex's own /_health tells
            return JSONResponse(
                {"status": False, "db": "OperationalError: server at 10.0.0.5 refused"}, status_code=503
            )

        return Starlette(
            routes=[
                Route("/login", page),
                Route("/_upload", upload, methods=["POST"]),
                WebSocketRoute("/_event/", event),
                Route("/page", html),
                Route("/_health", health),
            ]
        )


@pytest.fixture
def inner() -> Inner:
    return Inner()


@pytest.fixture
def built_web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's web dir (REFLEX_WEB_WORKDIR), built: its one page is PAGE, whose scripts the build recorded."""
    web = tmp_path / "web"
    (web / "build" / "client").mkdir(parents=True)
    (web / "build" / "client" / "page.html").write_bytes(PAGE)
    mark_built(web)
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(web))
    return web


@pytest.fixture
def guard(data_dir: Path, built_web: Path, inner: Inner) -> Guard:
    return Guard(
        inner.app(),
        upload_handlers=frozenset({HANDLER}),
        tab_owner=tab_owner,
        member_key=lambda member_id: f"member-{member_id}",
    )


@pytest.fixture
def client(guard: Guard) -> TestClient:
    return TestClient(guard, base_url="http://testserver")


def upload_headers(tab: str = TAB, handler: str = HANDLER) -> dict[str, str]:
    return {"Reflex-Client-Token": tab, "Reflex-Event-Handler": handler}


def signed_in_cookie(client: TestClient) -> dict[str, str]:
    from exports_app.api.app import create_api

    api = TestClient(create_api(), base_url="http://testserver")
    assert api.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    return {"exports_session": api.cookies["exports_session"]}


def test_every_answer_carries_the_security_headers(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    response = client.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in response.headers
    monkeypatch.setenv("EXPORTS_SECURE_COOKIES", "1")
    app_config.get_settings.cache_clear()
    assert "max-age" in client.get("/login").headers["strict-transport-security"]


@pytest.mark.parametrize("gzipped", ["0", "1"])
def test_a_page_may_run_its_own_inline_scripts_and_nothing_else(client: TestClient, gzipped: str) -> None:
    """script-src names each inline script of the page by its hash; no 'unsafe-inline'; no plugins, no <base>."""
    response = client.get(f"/page?gzip={gzipped}")
    assert response.content == PAGE
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    scripts = policy["script-src"].split()
    for script in INLINE:
        assert f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" in scripts
    assert "'unsafe-inline'" not in scripts and len([s for s in scripts if s.startswith("'sha256-")]) == 2
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


def test_a_page_passes_through_unread(data_dir: Path, built_web: Path) -> None:
    """The policy goes into the page's start, and each part of its body goes on as it comes, as it is: the first
    reaches the client before the app makes the last (a guard that reads the page holds them all until the end)."""
    parts = [gzip.compress(b"<html><script>made()</script>"), b"not gzip at all", b"</html>"]
    to_client: list[Message] = []
    sent_before_the_last: list[int] = []

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-encoding", b"gzip")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for number, part in enumerate(parts, start=1):
            if number == len(parts):
                sent_before_the_last.append(len(to_client))
            await send({"type": "http.response.body", "body": part, "more_body": number < len(parts)})

    async def client(message: Message) -> None:
        to_client.append(message)

    async def disconnected() -> Message:
        return {"type": "http.disconnect"}

    scope: Scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b""}
    run_in_own_loop(Guard(page)({**scope, "headers": [(b"host", b"testserver")]}, disconnected, client))
    assert sent_before_the_last == [len(parts)]  # the start and every part but the last were at the client
    assert [message.get("body") for message in to_client[1:]] == parts
    policy = dict(to_client[0]["headers"])[b"content-security-policy"].decode()
    for script in INLINE:  # the build's record, not this answer's body (whose script is not in the build)
        assert f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" in policy
    assert policy.count("'sha256-") == len(INLINE)


def test_the_api_docs_page_may_load_swagger_ui_when_enabled(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exports_app.api.app import create_api

    monkeypatch.setenv("EXPORTS_API_DOCS", "1")
    app_config.get_settings.cache_clear()
    docs = TestClient(Guard(create_api()), base_url="http://testserver")
    page, start = docs.get("/api/docs"), docs.get("/api/docs.js")
    app_config.get_settings.cache_clear()
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and "https://cdn.jsdelivr.net" in policy.split("script-src")[1].split(";")[0]
    # Its scripts are files ('self' and the CDN): no inline one that the build's hashes would have to name.
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == [] and '<script src="/api/docs.js">' in page.text
    assert start.status_code == 200 and "SwaggerUIBundle(" in start.text
    assert start.headers["content-type"].startswith("text/javascript")
    assert (
        "jsdelivr"
        not in TestClient(Guard(create_api()), base_url="http://testserver")
        .get("/api/auth/me")
        .headers["content-security-policy"]
    )


def test_a_not_modified_page_keeps_the_policy_it_was_stored_with(client: TestClient) -> None:
    """A 304 carries no CSP: the browser would put it over the stored page's, which names the page's scripts."""
    response = client.get("/page", headers={"If-None-Match": '"v1"'})
    assert response.status_code == 304
    assert "content-security-policy" not in response.headers and response.headers["x-frame-options"] == "DENY"


def test_health_check_tells_nothing_but_ok_or_unavailable(client: TestClient) -> None:
    response = client.get("/_health")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
    assert "content-security-policy" in response.headers


def test_foreign_origins_and_bad_paths_never_reach_the_app(client: TestClient, inner: Inner) -> None:
    refused = client.get("/login", headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and refused.json() == {"error": "Cross-origin request refused."}
    for path in ("/media/hls/1/v0/seg000.ts%00.m3u8", "/api/exports/%FF%FE/hls-status"):
        bad = client.get(path)
        assert bad.status_code == 400 and "error" in bad.json()
    assert inner.calls == []
    assert client.get("/login", headers={"Origin": "http://testserver"}).status_code == 200


def test_upload_without_a_session_is_401_before_the_body(client: TestClient, inner: Inner) -> None:
    response = client.post("/_upload", content=b"x" * 100_000, headers={"Reflex-Client-Token": TAB})
    assert response.status_code == 401 and response.json() == {"error": "Not signed in."}
    assert inner.calls == [] and inner.body_bytes == 0


def test_upload_over_the_limit_is_413(
    client: TestClient, inner: Inner, alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORTS_MAX_UPLOAD_BYTES", "50000")
    app_config.get_settings.cache_clear()
    cookies = signed_in_cookie(client)
    client.cookies.update(cookies)
    declared = client.post("/_upload", content=b"x" * 60_000, headers=upload_headers())
    assert declared.status_code == 413 and "error" in declared.json()
    assert inner.calls == []

    def stream() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(10):
            yield b"y" * 10_000

    streamed = client.post("/_upload", content=stream(), headers=upload_headers())
    assert streamed.status_code == 413 and "error" in streamed.json()
    assert inner.body_bytes <= 50_000
    assert client.post("/_upload", content=b"z" * 1000, headers=upload_headers("user-1")).status_code == 400
    ok = client.post("/_upload", content=b"z" * 1000, headers=upload_headers())
    assert ok.status_code == 200 and ok.json() == {"ok": True}


def test_upload_from_another_members_tab_or_to_a_handler_without_files_never_runs(
    client: TestClient, inner: Inner, alice: Member
) -> None:
    client.cookies.update(signed_in_cookie(client))
    for headers, status in (
        (upload_headers(BOBS_TAB), 403),  # alice's cookie, bob's tab
        (upload_headers(str(uuid.uuid4())), 403),  # a tab bound to no one
        (upload_headers(handler="state.export_modal_state.confirm_delete"), 400),
        (upload_headers(handler="reflex___state____state.hydrate"), 400),
    ):
        answer = client.post("/_upload", content=b"z" * 1000, headers=headers)
        assert answer.status_code == status and "error" in answer.json(), (headers, answer.text)
    assert inner.calls == []


def test_uploads_at_once_are_capped_per_member_and_in_all(
    client: TestClient, guard: Guard, inner: Inner, alice: Member
) -> None:
    client.cookies.update(signed_in_cookie(client))
    for _ in range(guard.uploads.per_member):  # alice's uploads still on their way
        assert guard.uploads.take(alice.id)
    busy = client.post("/_upload", content=b"z" * 1000, headers=upload_headers())
    assert busy.status_code == 429 and busy.headers["retry-after"] and inner.calls == []
    guard.uploads.give_back(alice.id)
    assert client.post("/_upload", content=b"z" * 1000, headers=upload_headers()).status_code == 200
    assert guard.uploads.by_member == {alice.id: guard.uploads.per_member - 1}  # its own slot was given back
    others = iter(range(100, 100 + guard.uploads.total))
    while guard.uploads.take(next(others)):
        pass
    assert not guard.uploads.take(alice.id) and sum(guard.uploads.by_member.values()) == guard.uploads.total


def test_event_socket_needs_the_own_origin_and_a_tab_token(client: TestClient, inner: Inner) -> None:
    with client.websocket_connect(f"/_event/?token={TAB}", headers={"Origin": "http://testserver"}) as socket:
        assert socket.receive_text() == "hello"
    assert inner.saw_origin == [None]  # checked by the guard; the socket server's list check is not needed
    for origin, token in (
        ("http://evil.example", TAB),
        ("http://testserver:8080", TAB),
        ("null", TAB),
        ("http://testserver", "user-1"),
        ("http://testserver", ""),
    ):
        with pytest.raises(WebSocketDisconnect):
            with client.websocket_connect(f"/_event/?token={token}", headers={"Origin": origin}) as socket:
                socket.receive_text()
    assert len(inner.saw_origin) == 1
