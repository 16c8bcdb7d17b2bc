"""Scale-out: two hosts of two workers each behind a load balancer, on one MariaDB and one Redis.

Each "host" is the app started as `make run` starts it, with `REFLEX_REDIS_URL` (Reflex's Redis state manager
and token manager), `EXPORTS_WORKERS=2` and `REFLEX_API_URL` naming the balancer, whose port the browser uses.
The hosts share the database, Redis and the data dir (as hosts share a volume when they use the local
transcoder). The failover test kills the leader's host outright (SIGKILL to its server and workers, no lease
release), the way a machine dies.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import pymysql
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

from tests.e2e.members import MEMBER_PASSWORD
from tests.support.app_process import RunningApp, csrf_of, sign_in, start_app
from tests.support.clips import make_clip
from tests.support.mariadb_server import MariaDB
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.tcp_balancer import TcpBalancer

pytestmark = pytest.mark.e2e

TRANSCODE_TIMEOUT = 180_000
SOCKET_RECORD = "token_manager_socket_record_"  # Reflex's RedisTokenManager key prefix


@dataclass
class Cluster:
    hosts: list[RunningApp]
    url: str  # the balancer's
    redis: RedisServer
    mariadb: MariaDB
    database: str

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with (
            pymysql.connect(host="127.0.0.1", port=self.mariadb.port, user="root", database=self.database) as conn,
            conn.cursor() as cur,
        ):
            cur.execute(sql)
            return list(cur.fetchall())

    def leader_pid(self) -> int | None:
        rows = self.query("SELECT holder FROM leases WHERE name = 'refresh-leader' AND expires_at > UTC_TIMESTAMP(6)")
        return int(str(rows[0][0]).split(":")[1]) if rows else None

    def instance_of(self, page: Page) -> str | None:
        """The Reflex worker instance that holds this tab's websocket (from Redis)."""
        token = page.evaluate("() => window.sessionStorage.getItem('token')")
        # redis-py types the sync client's replies as "Awaitable | Any": this one is the pickled record or None.
        raw = cast(bytes | None, self.redis.client().get(SOCKET_RECORD + token))
        return pickle.loads(raw).instance_id if raw else None


def worker_pids(host: RunningApp) -> set[int]:
    """The pids of a host's processes (supervisor and workers share its process group)."""
    return set(host.pids())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    ports = [free_port(), free_port()]
    with RedisServer() as redis_server, MariaDB() as mariadb, TcpBalancer(ports) as balancer:
        url = mariadb.create("scaleout")
        public = f"http://127.0.0.1:{balancer.port}"
        env = {
            "EXPORTS_DATABASE_URL": url,
            "REFLEX_REDIS_URL": redis_server.url,
            "EXPORTS_WORKERS": "2",
            "REFLEX_API_URL": f"http://localhost:{balancer.port}",
            "EXPORTS_ALLOWED_ORIGINS": f"{public},http://localhost:{balancer.port}",
            "EXPORTS_DATA_DIR": str(tmp_path_factory.mktemp("shared-data")),
            "EXPORTS_REFRESH_SECONDS": "1",
            "EXPORTS_SKIP_SEED": "1",
        }
        hosts: list[RunningApp] = []
        try:
            # One after the other: both run the migrations on the one database, and the second builds into the
            # first's web dir, so that both serve one build (the balancer sends a page's requests to either).
            for name, port in zip(("host-a", "host-b"), ports, strict=True):
                hosts.append(
                    start_app(tmp_path_factory.mktemp(name), env, port=port, frontend_of=hosts[0] if hosts else None)
                )
            yield Cluster(hosts, public, redis_server, mariadb, "scaleout")
        finally:
            for host in hosts:
                host.stop()


@pytest.fixture(scope="module")
def member(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """A member with three short exports."""
    host = cluster.hosts[0]
    host.cli("user", "create", "ivy", "--password", MEMBER_PASSWORD)
    clips = tmp_path_factory.mktemp("scale-clips")
    return [
        host.cli(
            "export",
            "import",
            "--user",
            "ivy",
            str(make_clip(clips / f"clip{i}.mp4", seconds=2.0, width=320, height=180)),
            "--title",
            f"Scale export {i}",
        )
        for i in range(3)
    ]


def signed_in_context(browser: Browser, cluster: Cluster) -> BrowserContext:
    context = browser.new_context(base_url=cluster.url, viewport={"width": 1280, "height": 900})
    sign_in(context.new_page(), "ivy", MEMBER_PASSWORD)
    return context


def open_tab(context: BrowserContext, upload_id: str) -> Page:
    page = context.new_page()
    seen: list[str] = []  # what the tab's console and websocket did, told if its list never shows

    def watch(socket: WebSocket) -> None:
        seen.append(f"websocket to {socket.url}")
        socket.on("framereceived", lambda frame: seen.append(f"frame of {len(frame)} characters"))
        socket.on("close", lambda _: seen.append("websocket closed"))

    page.on("console", lambda message: seen.append(f"console {message.type}: {message.text[:200]}"))
    page.on("websocket", watch)
    page.goto("/exports")
    try:
        expect(page.get_by_test_id(f"export-row-{upload_id}")).to_be_visible(timeout=30_000)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nwhat the tab saw: {seen[-40:]}") from None
    return page


def test_one_leader_across_hosts_and_workers(cluster: Cluster) -> None:
    workers = set().union(*(worker_pids(h) for h in cluster.hosts))
    assert len(workers) >= 6  # two supervisors, four workers
    deadline = time.monotonic() + 30
    while cluster.leader_pid() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    leader = cluster.leader_pid()
    assert leader in workers
    time.sleep(7)  # more than a renewal period: the same leader keeps it, nobody else takes it
    assert cluster.leader_pid() == leader
    assert len(cluster.query("SELECT * FROM leases")) == 1


def test_status_reaches_tabs_on_every_worker(cluster: Cluster, member: list[str], browser: Browser) -> None:
    upload_id = member[0]
    context = signed_in_context(browser, cluster)
    tabs: list[Page] = []
    instances: set[str] = set()
    try:
        # Open tabs until their websockets sit on all four workers (the balancer alternates hosts, the
        # kernel spreads a host's connections over its workers).
        while len(tabs) < 16 and len(instances) < 4:
            tab = open_tab(context, upload_id)
            tabs.append(tab)
            instances.add(cluster.instance_of(tab) or "unknown")
        instances.discard("unknown")
        assert len(instances) >= 3, f"{len(tabs)} tabs reached only {len(instances)} workers"
        print(f"scale-out: {len(tabs)} tabs on {len(instances)} workers of 2 hosts")

        first = tabs[0]
        first.get_by_test_id(f"export-cog-{upload_id}").click()
        first.get_by_test_id("btn-prep").click()
        expect(first.get_by_test_id("hls-status")).to_have_text("HLS: In progress\u2026")
        for tab in tabs:  # none reloaded: each learns of Ready from whichever worker holds its websocket
            expect(tab.get_by_test_id(f"export-badge-{upload_id}")).to_have_text("Ready", timeout=TRANSCODE_TIMEOUT)
    finally:
        context.close()


def test_leader_dies_and_another_host_takes_over(cluster: Cluster, member: list[str], browser: Browser) -> None:
    leader = cluster.leader_pid()
    dead = next(h for h in cluster.hosts if leader in worker_pids(h))
    survivor = next(h for h in cluster.hosts if h is not dead)
    context = signed_in_context(browser, cluster)
    contexts = [context]
    try:
        csrf = csrf_of(context)
        prep = context.request.post(f"/api/exports/{member[1]}/prep-hls", headers={"X-CSRF-Token": csrf})
        assert prep.ok, prep.text()
        os.killpg(dead.process.pid, signal.SIGKILL)  # leader, its workers and any ffmpeg: no lease release
        dead.process.wait(timeout=30)
        killed = time.monotonic()

        deadline = killed + 60
        while time.monotonic() < deadline and cluster.leader_pid() not in worker_pids(survivor):
            time.sleep(0.5)
        assert cluster.leader_pid() in worker_pids(survivor), "no takeover within 60 s"
        print(f"scale-out: the survivor took the lease {time.monotonic() - killed:.1f} s after the leader died")

        # The balancer now sends everyone to the survivor. The job the dead leader held is resumed by the
        # new one and pushed to an open tab; a new prep works too. The tab is a new browser's, signed in after
        # the failure: this browser's keep-alive connections ran through the balancer to the dead host, and a
        # TCP balancer cannot move them (an HTTP one retries), so a page load could land on one before Chromium
        # saw it closed (a blank list, "net::ERR_EMPTY_RESPONSE", no websocket: seen twice in many runs).
        after = signed_in_context(browser, cluster)
        contexts.append(after)
        tab = open_tab(after, member[1])
        expect(tab.get_by_test_id(f"export-badge-{member[1]}")).to_have_text("Ready", timeout=TRANSCODE_TIMEOUT)
        csrf = csrf_of(after)
        prep = tab.request.post(f"/api/exports/{member[2]}/prep-hls", headers={"X-CSRF-Token": csrf})
        assert prep.ok, prep.text()
        expect(tab.get_by_test_id(f"export-badge-{member[2]}")).to_have_text("Ready", timeout=TRANSCODE_TIMEOUT)
        counts = cluster.query(f"SELECT COUNT(*) FROM productions WHERE upload_id IN ({member[1]}, {member[2]})")
        assert counts[0][0] == 2  # resumed, not duplicated
    finally:
        for each in contexts:
            each.close()
