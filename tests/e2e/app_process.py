"""Start and stop the app as `make run` does (scripts/serve.sh), on a free port with its own data dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("EXPORTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def cli(self, *args: str) -> str:
        """Run `python -m exports_app …` against this app's data dir, as a user would."""
        done = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "exports_app", *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def python(self, code: str) -> str:
        """Run Python code against this app's data dir and database (for what no page or command makes)."""
        done = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", code], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def pids(self) -> list[int]:
        """The app's processes: the process group serve.sh leads (reflex and its workers)."""
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.getpgid(int(entry.name)) == self.process.pid:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
        return pids

    def _memory(self, field: str) -> int:
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
            total += int(found.group(1)) * 1024 if found else 0
        return total

    def rss_bytes(self) -> int:
        """The resident memory of all the app's processes now."""
        return self._memory("VmRSS")

    def reset_peaks(self) -> None:
        """Start the processes' peak resident memory (VmHWM) over from what they hold now."""
        for pid in self.pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                continue

    def peak_bytes(self) -> int:
        """The sum of each process's peak resident memory since reset_peaks (an upper bound of the total's peak)."""
        return self._memory("VmHWM")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/login", timeout=5) as page:
            if page.status != 200:
                return False
        urllib.request.urlopen(url + "/api/auth/me", timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False
    return False


def start_app(data_dir: Path, extra_env: dict[str, str] | None = None, deadline_s: float = 900,
              port: int | None = None) -> RunningApp:
    port = port or free_port()
    env = {**os.environ, "EXPORTS_DATA_DIR": str(data_dir), "EXPORTS_PORT": str(port)}
    # Same-origin by default, as `make run` serves it; a caller passes EXPORTS_ALLOWED_ORIGINS to add origins.
    env.pop("EXPORTS_ALLOWED_ORIGINS", None)
    env.pop("EXPORTS_DATABASE_URL", None)  # SQLite under the temp data dir unless a test names a server
    env.update(extra_env or {})
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(ROOT / "scripts/serve.sh")], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    app = RunningApp(f"http://127.0.0.1:{port}", data_dir, env, log, process)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if _ready(app.url):
            return app
        time.sleep(1)
    app.stop()
    raise RuntimeError(f"app not ready after {deadline_s}s:\n{log.read_text()[-4000:]}")


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/exports**", timeout=30_000)
    page.get_by_test_id("member-name").wait_for(timeout=30_000)
