"""Load: 200 API pollers and 50 live tabs, with 50 concurrent Preps of one export in the middle.

Of the 50 tabs, 5 are Chromium pages, which show what a member sees; the other 45 are raw socket.io tabs that do
what the page does (tests/support/capacity_tabs.py: the member's session cookie, the page's Origin, its connect
with the page's hydrate event, its list, then every status change of the member's exports). The server holds the
same 50 live websockets linked to the member's live state and pushes each change to all of them; 50 Chromium
renderers spent about a minute of CPU just to open, which the socket tabs do not.

The app runs as `make run` runs it (one worker, SQLite). Pollers loop on GET hls-status from before the burst
until every tab has seen the export Ready, and for at least LOAD_MIN_SECONDS: the whole Prep, from the burst to
the last tab's push, happens under the load (idle polling after that showed nothing more). Any non-200 answer,
transport error, or wait of REQUEST_TIMEOUT_S for the server is an error, and there must be none. Five seconds
in, 50 POST prep-hls for one export go out at once: all must answer 200 with the same production, and the
database must then hold one production and one media job for that export. Every tab must show that export Ready
by push, never reloaded (a socket tab: its list arrived showing Not started, then Ready came over the same socket,
never closed), and nothing of the idle export or of anyone else. Latencies and times are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.members import MEMBER_PASSWORD
from tests.support.app_process import RunningApp, sign_in
from tests.support.capacity import protocol
from tests.support.capacity_tabs import SocketTab, TabPlan
from tests.support.clips import make_clip
from tests.support.http import app_async_client
from tests.support.paths import ARTIFACTS

pytestmark = pytest.mark.e2e

POLLERS = 200
PAGES = 50  # live tabs in all
BROWSER_TABS = 5  # of them in Chromium; the rest are socket tabs
SOCKET_TABS = PAGES - BROWSER_TABS
PREP_BURST = 50
# The load runs at least this long, and on until every tab has seen Ready. Ready comes about 4 s after the burst
# (load.json's after_burst_s); the load past it only repeats the same polls (20 s here cost about 15 CPU s more).
LOAD_MIN_SECONDS = 10.0
BURST_AFTER_S = 5.0  # pollers are all connected and busy before the burst lands
REQUEST_TIMEOUT_S = 30.0  # the bound: waiting this long to connect or for an answer fails as an error
PAGE_TIMEOUT_MS = 180_000  # 2 cores, 50 renderers and someone else's tests: generous, never a measurement
MEMBER = "lena"

# Runs in each tab: remember, by wall clock, when the export's badge first showed each text. A reload
# would drop window.__seen, so finding it afterwards also proves the tab was never reloaded.
WATCH_BADGE = """testId => {
    window.__seen = {};
    const note = () => {
        const badge = document.querySelector(`[data-testid="${testId}"]`);
        const text = badge ? badge.textContent : null;
        if (text && !(text in window.__seen)) window.__seen[text] = Date.now();
    };
    note();
    new MutationObserver(note).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


@dataclass
class Tab:
    """One browser tab on /exports and the Reflex websockets it opened."""

    page: Page
    sockets: list[WebSocket] = field(default_factory=list)

    def note_socket(self, ws: WebSocket) -> None:
        if "/_event" in ws.url:
            self.sockets.append(ws)

    def closed_sockets(self) -> int:
        return sum(ws.is_closed() for ws in self.sockets)


@dataclass
class LoadRun:
    """What the pollers and the Prep burst saw."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    prep_answers: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    prep_latencies_ms: list[float] = field(default_factory=list)
    prep_errors: Counter[str] = field(default_factory=Counter)
    socket_tabs: list[SocketTab] = field(default_factory=list)  # finished (their sockets closed) after the load
    socket_tabs_open_s: float = 0.0
    socket_states_at_open: list[str | None] = field(default_factory=list)  # the prepped export's, in each list
    burst_at: float = 0.0  # wall clock (time.time), comparable with the tabs' Date.now() and the socket tabs' frames
    api_seen: dict[str, float] = field(default_factory=dict)  # state → when a poll first answered it (prepped)
    seconds: float = 0.0


def spread(values: list[float]) -> dict[str, float]:
    return (
        {"first": round(min(values), 2), "median": round(statistics.median(values), 2), "last": round(max(values), 2)}
        if values
        else {}
    )


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "p99": round(cuts[98], 1),
        "max": round(max(values), 1),
    }


TabSession = tuple[int, dict[str, str]]  # the member's id and the cookies of the session their tabs share


def saw_ready(tab: SocketTab, upload_id: int) -> bool:
    return any(receipt[0] == upload_id and receipt[3] == "ready" for receipt in tab.result.receipts)


async def open_socket_tabs(url: str, tab_session: TabSession, uploads: list[str]) -> list[SocketTab]:
    """SOCKET_TABS of the member's tabs on /exports, all opening at once, each open once its list has arrived (or
    with its error)."""
    member_id, cookies = tab_session
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    plans = [TabPlan(n, member_id, MEMBER, cookie, frozenset(int(u) for u in uploads)) for n in range(SOCKET_TABS)]
    names = protocol()
    tabs = [SocketTab(plan, names) for plan in plans]
    await asyncio.gather(*(tab.open(url, PAGE_TIMEOUT_MS / 1000) for tab in tabs))
    return tabs


async def drive_load(
    url: str,
    cookies: dict[str, str],
    tab_session: TabSession,
    polled: list[str],
    prepped: str,
    tabs_done: threading.Event,
) -> LoadRun:
    """The socket tabs, POLLERS closed-loop status pollers, and one burst of PREP_BURST concurrent Preps; the pollers
    stop once `tabs_done` is set, every socket tab has seen the export Ready and LOAD_MIN_SECONDS have passed (or
    at the tabs' own deadline)."""
    run = LoadRun()
    opening = time.monotonic()
    run.socket_tabs = await open_socket_tabs(url, tab_session, polled)
    run.socket_tabs_open_s = time.monotonic() - opening
    run.socket_states_at_open = [(tab.status(int(prepped)) or (0, "", None))[2] for tab in run.socket_tabs]
    at_least = time.monotonic() + LOAD_MIN_SECONDS
    at_most = at_least + PAGE_TIMEOUT_MS / 1000

    def loading() -> bool:
        now = time.monotonic()
        tabs_ready = tabs_done.is_set() and all(saw_ready(tab, int(prepped)) for tab in run.socket_tabs)
        return now < at_most and (now < at_least or not tabs_ready)

    # A client per poller, as 200 separate pollers would be: one shared httpx pool of 200 connections
    # spends more CPU scheduling its queue than the server spends answering (the clients share one TLS context:
    # tests/support/http.py).

    def client(connections: int = 1, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return app_async_client(
            base_url=url,
            cookies=cookies,
            headers=headers,
            timeout=REQUEST_TIMEOUT_S,
            limits=httpx.Limits(max_connections=connections),
        )

    async def poll(upload_id: str) -> None:
        async with client() as poller:
            while loading():
                began = time.perf_counter()
                try:
                    response = await poller.get(f"/api/exports/{upload_id}/hls-status")
                except httpx.HTTPError as exc:
                    run.errors[type(exc).__name__] += 1
                    await asyncio.sleep(0.1)  # a dead server must not turn into a busy loop
                    continue
                run.latencies_ms.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    run.errors[f"HTTP {response.status_code}"] += 1
                elif upload_id == prepped:
                    run.api_seen.setdefault(response.json()["state"], time.time())

    async def prep(prepper: httpx.AsyncClient) -> None:
        began = time.perf_counter()
        try:
            response = await prepper.post(f"/api/exports/{prepped}/prep-hls")
        except httpx.HTTPError as exc:
            run.prep_errors[type(exc).__name__] += 1
            return
        run.prep_latencies_ms.append((time.perf_counter() - began) * 1000)
        try:
            body = response.json()
        except ValueError:  # not the JSON the API promises, even for errors: keep it for the report
            body = {"error": response.text[:200]}
        run.prep_answers.append((response.status_code, body))

    async def burst() -> None:
        await asyncio.sleep(BURST_AFTER_S)
        headers = {"X-CSRF-Token": cookies["csrf_token"], "Origin": url}
        async with client(PREP_BURST, headers) as prepper:
            run.burst_at = time.time()
            await asyncio.gather(*(prep(prepper) for _ in range(PREP_BURST)))

    began = time.monotonic()
    await asyncio.gather(burst(), *(poll(polled[n % len(polled)]) for n in range(POLLERS)))
    run.seconds = time.monotonic() - began
    for tab in run.socket_tabs:
        tab.finish()  # before closing: a socket the server dropped shows as closed early
    await asyncio.gather(*(tab.sock.close() for tab in run.socket_tabs if tab.sock is not None))
    return run


def api_sign_in(url: str) -> TabSession:
    """The member's id, and the session and CSRF cookies of a plain API sign-in (a separate session from the
    tabs')."""
    response = httpx.post(
        f"{url}/api/auth/login",
        json={"username": MEMBER, "password": MEMBER_PASSWORD},
        headers={"Origin": url},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()["member"]["id"], dict(response.cookies)


def open_tabs(context: BrowserContext, row_test_id: str) -> list[Tab]:
    """BROWSER_TABS tabs on /exports: the first signs in, the rest open with its cookies, all loading at once."""
    tabs = [Tab(context.new_page()) for _ in range(BROWSER_TABS)]
    for tab in tabs:
        tab.page.on("websocket", tab.note_socket)
    sign_in(tabs[0].page, MEMBER, MEMBER_PASSWORD)
    for tab in tabs[1:]:
        tab.page.goto("/exports", wait_until="commit", timeout=PAGE_TIMEOUT_MS)
    for tab in tabs:
        expect(tab.page.get_by_test_id(row_test_id)).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    return tabs


def rows_in_database(data_dir: Path, upload_id: str) -> tuple[int, int]:
    """(productions, media jobs) of one export, counted straight from the app's SQLite file."""
    engine = sa.create_engine(f"sqlite:///{data_dir / 'exports.db'}")
    try:
        with engine.connect() as conn:
            productions = conn.execute(
                sa.text("SELECT count(*) FROM productions WHERE upload_id = :u"), {"u": upload_id}
            ).scalar_one()
            jobs = conn.execute(
                sa.text(
                    "SELECT count(*) FROM media_jobs j JOIN productions p"
                    " ON p.id = j.production_id WHERE p.upload_id = :u"
                ),
                {"u": upload_id},
            ).scalar_one()
    finally:
        engine.dispose()
    return productions, jobs


@pytest.fixture(scope="module")
def exports(app_server: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A member with two short exports: (the one prepped under load, one left alone)."""
    app_server.cli("user", "create", MEMBER, "--password", MEMBER_PASSWORD)
    clip = make_clip(tmp_path_factory.mktemp("load-clips") / "load.mp4", seconds=3.0)
    prepped = app_server.cli("export", "import", "--user", MEMBER, str(clip), "--title", "Load prepped")
    idle = app_server.cli("export", "import", "--user", MEMBER, str(clip), "--title", "Load idle")
    return prepped, idle


def wait_for_ready(tabs: list[Tab]) -> None:
    """Give every tab until one shared deadline to see Ready; a tab that never does fails the asserts later."""
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    for tab in tabs:
        remaining_ms = max(1_000.0, (deadline - time.monotonic()) * 1000)
        try:
            # Polled on a timer, not on animation frames, which a busy headless tab may hold back.
            tab.page.wait_for_function("() => 'Ready' in (window.__seen || {})", polling=250, timeout=remaining_ms)
        except PlaywrightTimeoutError:
            pass


def server_errors(log: Path, offset: int) -> list[str]:
    """Lines the server logged since offset that report an error (a failed push is only logged, not shown)."""
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode(errors="replace").splitlines()
    return [line for line in lines if re.search(r"Traceback|\bERROR\b|Exception", line)]


def test_pollers_tabs_and_prep_burst(browser: Browser, app_server: RunningApp, exports: tuple[str, str]) -> None:
    started = time.monotonic()
    log_offset = app_server.log.stat().st_size
    prepped, idle = exports
    badge, idle_badge = f"export-badge-{prepped}", f"export-badge-{idle}"
    context = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 900})
    try:
        tabs = open_tabs(context, f"export-row-{prepped}")
        tabs_open_s = time.monotonic() - started
        for tab in tabs:
            expect(tab.page.get_by_test_id(badge)).to_have_text("Not started")
            tab.page.evaluate(WATCH_BADGE, badge)
        closed_before = sum(tab.closed_sockets() for tab in tabs)

        member_id, cookies = api_sign_in(app_server.url)
        # The socket tabs share the browser tabs' session, as more tabs of the same browser would.
        tab_session = member_id, {c["name"]: c["value"] for c in context.cookies(app_server.url)}
        tabs_done = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop; Playwright's sync API stays here
            polled = [prepped, idle]
            load = pool.submit(
                asyncio.run, drive_load(app_server.url, cookies, tab_session, polled, prepped, tabs_done)
            )
            try:
                wait_for_ready(tabs)  # while the load runs: the status can only arrive by push
            finally:
                tabs_done.set()
            run = load.result(timeout=LOAD_MIN_SECONDS + PAGE_TIMEOUT_MS / 1000 + 2 * REQUEST_TIMEOUT_S)

        seen: list[dict[str, int] | None] = [tab.page.evaluate("() => window.__seen") for tab in tabs]
        idle_texts = [tab.page.get_by_test_id(idle_badge).text_content() for tab in tabs]
        socket_closes = sum(tab.closed_sockets() for tab in tabs) - closed_before
        open_sockets = [len(tab.sockets) - tab.closed_sockets() for tab in tabs]
    finally:
        for page in context.pages:
            page.close()
        context.close()

    productions, jobs = rows_in_database(app_server.data_dir, prepped)
    logged_errors = server_errors(app_server.log, log_offset)
    # Seconds from the burst to each tab's first sight of a badge text; "last" of Ready = all tabs Ready.
    tabs_saw = {
        text: [s[text] / 1000 - run.burst_at for s in seen if s and text in s] for text in ("In progress", "Ready")
    }
    sockets_saw = {
        state: [
            min(r[4] for r in tab.result.receipts if r[0] == int(prepped) and r[3] == state) - run.burst_at
            for tab in run.socket_tabs
            if any(r[0] == int(prepped) and r[3] == state for r in tab.result.receipts)
        ]
        for state in ("in_progress", "ready")
    }
    socket_errors = [f"tab {t.plan.tab}: {t.result.error}" for t in run.socket_tabs if t.result.error]
    socket_closed_early = sum(t.result.closed_early for t in run.socket_tabs)
    socket_idle = [(t.status(int(idle)), [r for r in t.result.receipts if r[0] == int(idle)]) for t in run.socket_tabs]
    foreign = [f for t in run.socket_tabs for f in t.result.foreign]
    report = {
        "pollers": POLLERS,
        "seconds": round(run.seconds, 1),
        "requests": len(run.latencies_ms),
        "rps": round(len(run.latencies_ms) / run.seconds, 1),
        "latency_ms": percentiles(run.latencies_ms),
        "errors": dict(run.errors),
        "prep_burst": {
            "requests": PREP_BURST,
            "answers": dict(Counter(str(code) for code, _ in run.prep_answers)),
            "errors": dict(run.prep_errors),
            "latency_ms": percentiles(run.prep_latencies_ms),
            "answers_by_production": dict(Counter(str(body.get("productionId")) for _, body in run.prep_answers)),
            "productions_in_db": productions,
            "media_jobs_in_db": jobs,
        },
        "pages": PAGES,
        "browser_tabs": BROWSER_TABS,
        "socket_tabs": SOCKET_TABS,
        "pages_open_s": round(tabs_open_s, 1),
        "socket_tabs_open_s": round(run.socket_tabs_open_s, 1),
        "websocket_closes": socket_closes + socket_closed_early,
        "pages_ready": len(tabs_saw["Ready"]) + len(sockets_saw["ready"]),
        "after_burst_s": {
            "api": {state: round(at - run.burst_at, 2) for state, at in run.api_seen.items() if state != "not_ready"},
            "pages": {text: spread(times) | {"tabs": len(times)} for text, times in tabs_saw.items()},
            # Read in the pollers' event loop: late by as much as that loop is busy.
            "socket_tabs": {state: spread(times) | {"tabs": len(times)} for state, times in sockets_saw.items()},
        },
        "server_log_errors": logged_errors[:20],
        "test_runtime_s": round(time.monotonic() - started, 1),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nload:", json.dumps(report, indent=2))

    assert run.errors == Counter(), f"poller errors: {dict(run.errors)}"
    assert run.prep_errors == Counter() and len(run.prep_answers) == PREP_BURST, run.prep_errors
    assert {code for code, _ in run.prep_answers} == {200}, run.prep_answers
    assert len({body["productionId"] for _, body in run.prep_answers}) == 1, run.prep_answers
    assert {body["state"] for _, body in run.prep_answers} <= {"in_progress", "ready"}, run.prep_answers
    assert (productions, jobs) == (1, 1)
    assert all(s is not None for s in seen), "a tab was reloaded"
    assert len(tabs_saw["Ready"]) == BROWSER_TABS, f"only {len(tabs_saw['Ready'])} of {BROWSER_TABS} tabs saw Ready"
    assert socket_closes == 0 and all(n >= 1 for n in open_sockets), (socket_closes, open_sockets)
    assert idle_texts == ["Not started"] * BROWSER_TABS  # the push touched only the prepped export
    # The socket tabs: each opened with its list showing the export not started, saw it Ready over the same
    # socket, never lost it, and got nothing of the idle export or of anyone else.
    assert socket_errors == [], socket_errors
    assert run.socket_states_at_open == ["not_ready"] * SOCKET_TABS, run.socket_states_at_open
    assert len(sockets_saw["ready"]) == SOCKET_TABS, f"only {len(sockets_saw['ready'])} of {SOCKET_TABS} saw Ready"
    assert socket_closed_early == 0, f"{socket_closed_early} socket tabs lost their socket"
    assert socket_idle == [((0, "", "not_ready"), [])] * SOCKET_TABS, socket_idle
    assert foreign == [], foreign
    assert logged_errors == []
