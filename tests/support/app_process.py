"""Start and stop the app as `make run` does (scripts/serve.sh), on a free port with its own data dir."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import BrowserContext, Page

from tests.support.environment import environ
from tests.support.paths import ROOT
from tests.support.ports import free_port

# Debian's chromium-headless-shell: the same Chromium build as Debian's chromium, in the headless shell that Playwright
# itself runs headless tests in. The full browser's new headless mode runs a GPU process and the whole browser UI
# besides, about twice the CPU for the same pages (an e2e module: 19.9 against 15.3 CPU s, app included).
# EXPORTS_CHROMIUM=/usr/bin/chromium runs the tests in the full browser.
CHROMIUM = os.environ.get("EXPORTS_CHROMIUM", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
WEB_SEED = ROOT / ".web"  # the repo's frontend work dir, as `make run` leaves it: sources, packages and build
# Not copied: the build is hard-linked (3,300 files, over a second of CPU to copy at every start), and each package
# is a symlink to the seed's (13,500 files in all: hard-linking them, and removing the links when the app stopped,
# cost about 1.5 s of CPU a start). Neither is written in place: no start installs packages, and Reflex's build
# removes the build dir before it writes a new one (reflex/utils/build.py), so an app that builds its own unlinks
# the names it shares and the seed's files stay as they are. Vite's scratch folders in node_modules (.vite-temp,
# where a build bundles its config) are left out, so a build writes its own.
_BUILD = "build"
_PACKAGES = "node_modules"
_SCRATCH = frozenset({".vite", ".vite-temp", ".cache"})


def group_pids(pgid: int) -> list[int]:
    """The live processes of a process group (a server started in a session of its own, and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    work_dir: Path = field(repr=False)  # Reflex's web dir (unless shared: start_app) and states dir

    def cli(self, *args: str) -> str:
        """Run the command line (`python -m exports_app …`, its main) against this app's data dir and database; what
        it printed. It must succeed."""
        done = self.run_cli(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The command line against this app's data dir and database, whatever its exit code: its code and what it
        printed to stdout and stderr, as an operator's shell gets them. In this process: a new interpreter spends over
        a second of CPU importing what this one has."""
        from exports_app import cli

        printed, told = io.StringIO(), io.StringIO()
        # A command's own process has no log handler: Python prints its warnings and errors to stderr, one line each
        # (logging.lastResort). Here pytest's handlers would take them, so they are put on its stderr as they would be.
        last_resort = logging.StreamHandler(told)
        last_resort.setLevel(logging.WARNING)
        logging.getLogger().addHandler(last_resort)
        try:
            with self.in_this_process(), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(told):
                status = cli.main(list(args))
        finally:
            logging.getLogger().removeHandler(last_resort)
        return subprocess.CompletedProcess(["exports_app", *args], status, printed.getvalue(), told.getvalue())

    @contextmanager
    def in_this_process(self) -> Iterator[RunningApp]:
        """While inside, this process's settings and database engine are the app's (its EXPORTS_* variables), so
        services called here read and write the app's data; on exit, this process's own again."""
        from exports_app import config, db

        # REFLEX_REDIS_URL too: the settings check that several workers have it.
        names = {name for name in (*os.environ, *self.env) if name.startswith("EXPORTS_") or name == "REFLEX_REDIS_URL"}
        with environ({name: self.env.get(name) for name in names}):
            config.get_settings.cache_clear()
            db.reset_engine()
            try:
                yield self
            finally:
                db.reset_engine()
                config.get_settings.cache_clear()

    def pids(self) -> list[int]:
        """The app's processes: the process group serve.sh leads (reflex and its workers)."""
        return group_pids(self.process.pid)

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

    def frontend_event_url(self) -> str:
        """The websocket URL the frontend this app serves now connects to (its build's env.json chunk)."""
        with urllib.request.urlopen(self.url + "/login", timeout=10) as page:
            html = page.read().decode()
        chunk = re.search(r"assets/reflex-env-[\w-]+\.js", html)
        assert chunk, "the login page loads no reflex-env chunk"
        with urllib.request.urlopen(f"{self.url}/{chunk.group(0)}", timeout=10) as script:
            found = re.search(r"EVENT:\s*[`\"']([^`\"']+)", script.read().decode())
        assert found, "the reflex-env chunk names no EVENT URL"
        return found.group(1)

    def stop(self) -> None:
        stop_group(self.process)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def spawn_serve(root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """scripts/serve.sh of the checkout at root, as `make run` runs it, leading a process group of its own (so that
    its workers can be stopped with it), its output in log."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(root / "scripts/serve.sh")],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group a server leads, as a supervisor sends it; SIGKILL if it has not ended in 20 s."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _copy_web_dir(source: Path, target: Path) -> None:
    """A copy of a web work dir: its sources copied (a few hundred KB), its build hard-linked, its packages linked."""
    top = str(source)
    shutil.copytree(
        source, target, symlinks=True, ignore=lambda folder, names: (_BUILD, _PACKAGES) if folder == top else ()
    )
    if (source / _BUILD).is_dir():
        shutil.copytree(source / _BUILD, target / _BUILD, symlinks=True, copy_function=os.link)
    if (source / _PACKAGES).is_dir():
        (target / _PACKAGES).mkdir()
        for package in (source / _PACKAGES).iterdir():
            if package.name not in _SCRATCH:
                (target / _PACKAGES / package.name).symlink_to(package)


def prepare_seed() -> None:
    """Compile and build the seed, the checkout's own web dir, as `make run` does, unless it is current: the one
    place a test run makes a frontend. `make test` runs the same command before any test; this covers a test run
    on its own. Reflex holds its lock on the web dir while it compiles and builds, so starts at once take turns."""
    subprocess.run([sys.executable, "-m", "exports_app", "build-frontend"], cwd=ROOT, check=True, capture_output=True)


def own_web_dir(web: Path) -> Path:
    """A web work dir for one app (REFLEX_WEB_WORKDIR), a copy of the seed's: what it builds is its own.

    The bundle names no port (exports_app/frontend_bundle.py), so the seed's build serves any app whose pages
    compile to the same sources, and its start does not build again; an app whose sources differ builds its own
    into its own dir, from the seed's packages, and a running app's files are never replaced under it. No test
    writes the seed: prepare_seed makes it when it is missing.
    """
    from reflex.utils.path_ops import file_lock

    if not (WEB_SEED / "reflex.json").is_file():
        prepare_seed()
    with file_lock(WEB_SEED):  # the lock `reflex run` holds while it compiles and builds in the seed
        _copy_web_dir(WEB_SEED, web)
    return web


def ready(url: str) -> bool:
    """Whether the app at url serves its sign-in page and its API (which answers 401 to no session)."""
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


def start_app(
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    deadline_s: float = 900,
    port: int | None = None,
    frontend_of: RunningApp | None = None,
) -> RunningApp:
    """The app as `make run` starts it, on its own port and data dir, with a frontend of its own (own_web_dir).

    frontend_of: another host of the same site, behind the same balancer: this app builds into that app's web
    dir and both serve this one build (each build differs, if only by the build time Reflex bakes in, and a
    page's requests may go to either host).
    """
    port = port or free_port()
    env = {**os.environ, "EXPORTS_DATA_DIR": str(data_dir), "EXPORTS_PORT": str(port)}
    # Same-origin by default, as `make run` serves it; a caller passes EXPORTS_ALLOWED_ORIGINS to add origins.
    env.pop("EXPORTS_ALLOWED_ORIGINS", None)
    env.pop("EXPORTS_DATABASE_URL", None)  # SQLite under the temp data dir unless a test names a server
    env.update(extra_env or {})
    work_dir = Path(tempfile.mkdtemp(prefix="exports-app-"))  # beside the data dir: tests watch what is in it
    web = Path(frontend_of.env["REFLEX_WEB_WORKDIR"]) if frontend_of else own_web_dir(work_dir / "web")
    # The disk state manager's dir is the app's own too: each start empties it.
    env.update(REFLEX_WEB_WORKDIR=str(web), REFLEX_STATES_WORKDIR=str(work_dir / "states"))
    log = data_dir / "server.log"
    process = spawn_serve(ROOT, env, log)
    app = RunningApp(f"http://127.0.0.1:{port}", data_dir, env, log, process, work_dir)
    deadline = time.monotonic() + deadline_s
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            if ready(app.url):
                return app
            time.sleep(0.25)  # a refused connect costs next to nothing; a second's poll kept each start half a second
        raise RuntimeError(f"app not ready after {deadline_s}s:\n{log.read_text()[-4000:]}")
    except BaseException:
        app.stop()  # its workers and its work dir too
        raise


def sign_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/exports**", timeout=30_000)
    page.get_by_test_id("member-name").wait_for(timeout=30_000)


def csrf_of(context: BrowserContext) -> str:
    """The CSRF token a signed-in browser sends back in X-CSRF-Token (its csrf_token cookie)."""
    return next(c["value"] for c in context.cookies() if c["name"] == "csrf_token")
