"""The frontend bundle: one build serves the app on any port, and a start builds it only when its sources changed.

`reflex run --env prod` compiles the pages into the web dir and then builds the bundle with Vite at every start
(about 20 s of two cores), with the backend's URL, port included, baked in. The app serves its pages and its
websocket on one origin, so the port says nothing the page does not know: env.json names the backend without a
port, and the frontend takes the page's port for it (one line added to Reflex's runtime, see
reflex_bridge/patches.backend_on_page_port). A build is then good for as long as the compiled sources are the same, so a
start that compiles the same sources as the last build serves that build (a digest kept beside it) instead of
building again: a restart of `make run` takes seconds, and the tests' apps share one build.

The pages are static files, so the Content-Security-Policy's hashes of their inline scripts are made here too, once
per build, into a record beside it that the guard (api/guard.py) reads: it never reads the pages it serves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import reflex as rx
from reflex.config import get_config

# What the digest leaves out: the build itself, the installed packages (package.json and bun.lock stand for
# them), the route types the build generates, and reflex.json (it holds the time of the last run).
_NOT_SOURCES = frozenset({"build", "node_modules", ".react-router", "reflex.json"})
DIGEST_FILE = Path("build") / "exports-sources.sha256"  # beside the served files (build/client), not among them
SCRIPT_HASHES_FILE = Path("build") / "csp-hashes.json"  # the CSP hashes of the built pages' inline scripts
_SERVED = Path("build") / "client"
# An inline <script> of a page (not one with src=): its text is what a CSP hash covers.
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)
_SCRIPT_HASH = re.compile(r"'sha256-[A-Za-z0-9+/]{43}='")


def sources_digest(web: Path) -> str:
    """A digest of the web dir's compiled sources: every file but the build, its packages and its run stamp."""
    files = [path for top in web.iterdir() if top.name not in _NOT_SOURCES for path in _files(top)]
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(web).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    return [path] if path.is_file() else [found for found in path.rglob("*") if found.is_file()]


def build_is_stale(web: Path) -> bool:
    """Whether the web dir's build is missing, has no record of its scripts' hashes (one made before they were
    recorded), or was made from other sources than the ones compiled now."""
    stamp = web / DIGEST_FILE
    built = (web / _SERVED).is_dir() and stamp.is_file() and (web / SCRIPT_HASHES_FILE).is_file()
    return not built or stamp.read_text().strip() != sources_digest(web)


def mark_built(web: Path) -> None:
    """Record the CSP hashes of the build's inline scripts, then which sources the build was made from (last: a
    build whose record was not written stays stale)."""
    (web / SCRIPT_HASHES_FILE).write_text(json.dumps({"script-src": built_script_hashes(web)}, indent=1) + "\n")
    (web / DIGEST_FILE).write_text(sources_digest(web) + "\n")


def inline_script_hashes(html: bytes) -> list[str]:
    """The CSP sources ('sha256-…') of every inline script in a page, in order, without repeats."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]
    return list(dict.fromkeys(hashes))


def built_script_hashes(web: Path) -> list[str]:
    """The hashes of the inline scripts of every page in the build, in one list.

    One list serves every page: the pages share their inline scripts but the one that imports the route's own
    module (and the not-found page's context), and allowing those on another page allows nothing new ('self'
    already lets any of the build's files run). So the server needs no map from a request's path to the file
    Reflex will answer it with."""
    pages = sorted((web / _SERVED).rglob("*.html"))
    return list(dict.fromkeys(found for page in pages for found in inline_script_hashes(page.read_bytes())))


def recorded_script_hashes(web: Path) -> list[str] | None:
    """The hashes mark_built recorded for the web dir's build, or None when it has no (readable) record."""
    try:
        record = json.loads((web / SCRIPT_HASHES_FILE).read_text())
        listed = record["script-src"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(listed, list):
        return None
    # Only well-formed sources go into a policy: nothing in the file can add a directive or a wildcard.
    return [source for source in listed if isinstance(source, str) and _SCRIPT_HASH.fullmatch(source)]


def _portless(url: str) -> str:
    """The URL without its port when its host is one the frontend replaces with the page's own."""
    from exports_app.reflex_bridge import SAME_HOST_NAMES

    parts = urlsplit(url)
    if parts.hostname not in SAME_HOST_NAMES or parts.port is None:
        return url
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return urlunsplit(parts._replace(netloc=host))


class SameOriginFrontend(rx.plugins.Plugin):
    """The Reflex plugin that keeps the port out of the bundle when pages and websocket share one port."""

    def update_env_json(self, **context: Any) -> dict[str, Any] | None:
        from exports_app.reflex_bridge import backend_urls

        config = get_config()
        if config.frontend_port != config.backend_port:  # a dev server beside the backend: the port is needed
            return None
        return {name: _portless(url) for name, url in backend_urls().items()}

    def pre_compile(self, **context: Any) -> None:
        from exports_app.reflex_bridge.patches import STATE_JS, backend_on_page_port

        context["add_modify_task"](STATE_JS, backend_on_page_port)


def _stale_said(web: Path) -> bool:
    stale = build_is_stale(web)
    said = "building (its sources changed)" if stale else "the build of these sources is current"
    print(f"Frontend: {said}", flush=True)
    return stale


def build(loglevel: str) -> None:
    """What `serve` does before it serves: compile the pages into the web dir and build the bundle when its sources
    changed, under the lock Reflex holds on the web dir, and then end. `make test` prepares the frontend with it
    once, before any test starts an app (tests/support/app_process.py copies this web dir, the seed). The port is
    any free one: the bundle names none, and a `make run` already on its port must not stop the build."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve(port, loglevel, serving=False)


def serve(port: int, loglevel: str, *, serving: bool = True) -> None:
    """`reflex run --env prod --single-port` on `port`, with the Vite build only when the sources changed (and,
    with serving=False, nothing served after it)."""
    from exports_app.reflex_bridge import patches, run_reflex

    patches.install(frontend=patches.FrontendBuild(stale=_stale_said, built=mark_built, serve=serving))
    port_text = str(port)
    run_reflex(
        ["run", "--env", "prod", "--single-port", "--frontend-port", port_text, "--backend-port", port_text]
        + ["--loglevel", loglevel]
    )
