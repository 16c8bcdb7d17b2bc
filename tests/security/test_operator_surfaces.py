"""What an anonymous client can make the operator's surfaces hold: metric series, request ids, /readyz, log lines.

Before the fixes (e9dc3c6): 320 requests with made-up methods grew /metrics from 165 series to 485
(`exports_http_requests_total{method="X9FE3972907",route="other",status="405"}`); a client's own X-Request-ID was
kept from anywhere, so it could give its requests another request's id in the log; anonymous /readyz told the
data disk's free bytes and wrote and synced 64 KB per call; each malformed request wrote the server's
"Invalid HTTP request received." line.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from exports_app.logs import CLIENT_CAUSED
from exports_app.metrics import STANDARD_METHODS
from exports_app.services.readiness import WRITE_CHECK_SECONDS
from tests.security import raw_http
from tests.security.world import METRICS_TOKEN
from tests.support.app_process import RunningApp
from tests.support.http import app_client, app_transport

pytestmark = pytest.mark.e2e

SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
MADE_UP_METHODS = 320
UNTRUSTED_ADDRESS = "127.0.0.9"  # loopback, but not in FORWARDED_ALLOW_IPS (127.0.0.1,::1 by default)
PROBE_BYTES = 64 * 1024  # what one write test of the data dir writes (storage_faults.write_fails)
BURST = 200
MALFORMED = 200


@pytest.fixture
def app(security_app: RunningApp) -> RunningApp:
    """The suite's app; these attacks need no members."""
    return security_app


def series(app_url: str) -> set[str]:
    """The series /metrics has now: each sample's name and labels, without its value."""
    scraped = httpx.get(f"{app_url}/metrics", headers=SCRAPE, timeout=30)
    assert scraped.status_code == 200, scraped.text
    return {line.rpartition(" ")[0] for line in scraped.text.splitlines() if line and not line.startswith("#")}


def test_made_up_methods_add_no_metric_series(app: RunningApp) -> None:
    targets = ["/", "/api/auth/me", "/readyz", "/exports"]
    for target in targets:  # every route's usual series, and the scrape's own, exist before counting
        raw_http.request(app.url, "GET", target)
    series(app.url)
    before = series(app.url)
    for n in range(MADE_UP_METHODS):
        answer = raw_http.request(app.url, f"X{secrets.token_hex(5).upper()}", targets[n % len(targets)])
        assert answer is not None and answer.status >= 400, answer
    after = series(app.url)
    print(f"metric series: {len(before)} before {MADE_UP_METHODS} made-up methods, {len(after)} after")
    # At most one more per target: the made-up methods' answer, counted as method "other" with its status class.
    assert len(after - before) <= len(targets), "\n".join(sorted(after - before)[:10])
    methods = set(re.findall(r'\bmethod="([^"]*)"', "\n".join(after)))
    statuses = set(re.findall(r'\bstatus="([^"]*)"', "\n".join(line for line in after if "_http_" in line)))
    assert methods <= STANDARD_METHODS | {"other"}, methods
    assert statuses <= {"1xx", "2xx", "3xx", "4xx", "5xx", "other"}, statuses


def answered_id(app: RunningApp, sent: str, *, address: str | None, forwarded_for: str | None = None) -> str:
    """The X-Request-ID the app answers a request with that carried `sent`, from `address` (a local one)."""
    transport = app_transport(local_address=address) if address else None
    headers = {"X-Request-ID": sent} | ({"X-Forwarded-For": forwarded_for} if forwarded_for else {})
    with app_client(base_url=app.url, timeout=30, transport=transport) as client:
        return client.get("/healthz", headers=headers).headers["x-request-id"]


def test_a_clients_own_request_id_is_not_kept(app: RunningApp) -> None:
    """Another request's id, sent by a client that is no trusted proxy, with or without a forged X-Forwarded-For:
    the answer, and so the log, carries a fresh id."""
    borrowed = f"someone-elses-{secrets.token_hex(8)}"
    for forwarded_for in (None, "127.0.0.1", "198.51.100.7"):
        fresh = answered_id(app, borrowed, address=UNTRUSTED_ADDRESS, forwarded_for=forwarded_for)
        assert fresh != borrowed and re.fullmatch(r"[0-9a-f]{32}", fresh), (forwarded_for, fresh)


def test_a_trusted_proxys_request_id_is_kept(app: RunningApp) -> None:
    """A reverse proxy on this host (loopback, FORWARDED_ALLOW_IPS by default) passes its own request id on."""
    proxys = f"proxy-given-{secrets.token_hex(8)}"
    assert answered_id(app, proxys, address=None, forwarded_for="198.51.100.7") == proxys
    assert answered_id(app, proxys, address=None) == proxys
    assert answered_id(app, "short", address=None) != "short"  # still plain and 8 to 64 characters only


def written_bytes(app: RunningApp) -> int:
    """Bytes the app's processes have written so far (their /proc/<pid>/io wchar)."""
    total = 0
    for pid in app.pids():
        try:
            io = dict(line.split(": ") for line in open(f"/proc/{pid}/io").read().splitlines())
        except OSError:
            continue  # a process that just ended
        total += int(io["wchar"])
    return total


def test_readyz_tells_anonymous_callers_the_verdict_only(app: RunningApp) -> None:
    anonymous = httpx.get(f"{app.url}/readyz", timeout=30)
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ready"}, anonymous.text
    assert not re.search(r"\d", anonymous.text), "no byte counts for anyone"
    wrong = httpx.get(f"{app.url}/readyz", headers={"Authorization": "Bearer not-the-token"}, timeout=30)
    assert wrong.json() == {"status": "ready"}
    operator = httpx.get(f"{app.url}/readyz", headers=SCRAPE, timeout=30).json()
    assert operator["status"] == "ready" and set(operator["checks"]) >= {"database", "data_dir", "transcoder"}
    assert re.fullmatch(r"\d+ bytes free", operator["checks"]["data_dir"]["detail"]), operator


def test_a_burst_of_readiness_probes_writes_the_disk_a_couple_of_times(app: RunningApp) -> None:
    with app_client(base_url=app.url, timeout=30) as client:
        client.get("/readyz")
        before, started = written_bytes(app), time.monotonic()
        answers = {client.get("/readyz").status_code for _ in range(BURST)}
        elapsed, written = time.monotonic() - started, written_bytes(app) - before
    assert answers == {200}
    # One write test per WRITE_CHECK_SECONDS at most, whatever the burst; the rest is the app's own log and database.
    allowed = 2 + elapsed / WRITE_CHECK_SECONDS
    print(f"{BURST} probes in {elapsed:.1f} s: {written} bytes written ({written / PROBE_BYTES:.1f} write tests)")
    assert written / PROBE_BYTES <= allowed + 2, f"{written} bytes written by {BURST} probes in {elapsed:.1f} s"


def send_raw(app_url: str, data: bytes) -> bytes:
    """Send bytes as they are on a fresh connection and return all the server answers until it closes it."""
    url = urlsplit(app_url)
    with socket.create_connection((url.hostname, url.port), timeout=15) as sock:
        sock.sendall(data)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece
        return answer


def server_lines(app: RunningApp, since: int, message: str) -> int:
    return sum(message in line for line in app.log.read_bytes()[since:].decode(errors="replace").splitlines())


def test_malformed_requests_do_not_fill_the_log(app: RunningApp) -> None:
    invalid, odd_upgrade = CLIENT_CAUSED
    since = app.log.stat().st_size
    for n in range(MALFORMED):
        answer = send_raw(app.url, f"GET /{n} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
    for n in range(MALFORMED):
        upgrade = f"GET /healthz?{n} HTTP/1.1\r\nHost: x\r\nConnection: close, upgrade\r\nUpgrade: h2c\r\n\r\n"
        assert send_raw(app.url, upgrade.encode()).startswith(b"HTTP/1.1 200")
    counted = {message: server_lines(app, since, message) for message in (invalid, odd_upgrade)}
    print(f"server lines after {MALFORMED} of each: {counted}")
    # One a minute per message and worker (the first of these may fall in the minute an earlier test began).
    assert all(count <= 1 for count in counted.values()), counted
