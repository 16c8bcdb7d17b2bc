"""E2E fixtures: the app started by scripts/serve.sh (as `make run` starts it) and headless Chromium."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EXPORTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
DEMO_PASSWORD = "demo-password-e2e"
MEMBER_PASSWORD = "correct horse battery"
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    env: dict[str, str]
    log: Path

    def cli(self, *args: str) -> str:
        """Run `python -m exports_app …` against this app's data dir, as a user would."""
        done = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "exports_app", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 900) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=5) as page:
                if page.status == 200:
                    try:
                        urllib.request.urlopen(url + "/api/auth/me", timeout=5)
                    except urllib.error.HTTPError as exc:
                        if exc.code == 401:
                            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(1)
    raise RuntimeError(f"app not ready after {deadline_s}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = free_port()
    env = {**os.environ, "EXPORTS_DATA_DIR": str(data_dir), "EXPORTS_PORT": str(port),
           "EXPORTS_DEMO_PASSWORD": DEMO_PASSWORD, "EXPORTS_REFRESH_SECONDS": "1"}
    env.pop("EXPORTS_DATABASE_URL", None)
    log = data_dir / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(ROOT / "scripts/serve.sh")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log)
        yield RunningApp(url, data_dir, env, log)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, app_server: RunningApp) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=app_server.url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/exports**", timeout=30_000)
    page.get_by_test_id("member-name").wait_for(timeout=30_000)


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
