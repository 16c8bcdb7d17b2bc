"""The frontend bundle: built only when the compiled sources changed, and naming no port for the page's own host."""

from __future__ import annotations

from pathlib import Path

import pytest
from reflex.config import get_config

from exports_app.frontend_bundle import DIGEST_FILE, SameOriginFrontend, build_is_stale, mark_built, sources_digest


def web_dir(root: Path) -> Path:
    web = root / "web"
    for name, text in {
        "utils/state.js": "state",
        "app/routes/[exports]._index.jsx": "page",
        "env.json": "{}",
        "reflex.json": '{"last_reflex_run_datetime": "1"}',
        "node_modules/vite/index.js": "vite",
        ".react-router/types/+routes.ts": "types",
    }.items():
        (web / name).parent.mkdir(parents=True, exist_ok=True)
        (web / name).write_text(text)
    return web


def build(web: Path) -> None:
    (web / "build" / "client").mkdir(parents=True)
    mark_built(web)


def test_a_build_of_the_same_sources_is_current(tmp_path: Path) -> None:
    web = web_dir(tmp_path)
    assert build_is_stale(web)  # no build yet
    build(web)
    assert not build_is_stale(web)
    # the run stamp, the packages and the generated types are not sources
    (web / "reflex.json").write_text('{"last_reflex_run_datetime": "2"}')
    (web / "node_modules/vite/index.js").write_text("vite, reinstalled")
    (web / ".react-router/types/+routes.ts").write_text("regenerated")
    assert not build_is_stale(web)


@pytest.mark.parametrize("change", ["utils/state.js", "env.json", "app/routes/[login]._index.jsx"])
def test_a_changed_or_added_source_makes_the_build_stale(tmp_path: Path, change: str) -> None:
    web = web_dir(tmp_path)
    build(web)
    (web / change).write_text("changed")
    assert build_is_stale(web)


def test_a_build_without_its_digest_or_its_files_is_stale(tmp_path: Path) -> None:
    web = web_dir(tmp_path)
    build(web)
    (web / DIGEST_FILE).unlink()
    assert build_is_stale(web)
    mark_built(web)
    (web / "build" / "client").rmdir()
    assert build_is_stale(web)
    assert sources_digest(web) == sources_digest(web)


def test_the_bundle_names_no_port_for_the_pages_own_host(monkeypatch: pytest.MonkeyPatch) -> None:
    urls = {
        "EVENT": "ws://localhost:3000/_event",
        "UPLOAD": "http://[::]:3000/_upload",
        "PING": "https://a.example:8443/ping",
    }
    monkeypatch.setattr("exports_app.reflex_bridge.backend_urls", lambda: urls)
    config = get_config()
    monkeypatch.setattr(config, "frontend_port", 3000)
    monkeypatch.setattr(config, "backend_port", 3000)
    assert SameOriginFrontend().update_env_json() == {
        "EVENT": "ws://localhost/_event",
        "UPLOAD": "http://[::]/_upload",
        "PING": "https://a.example:8443/ping",  # a real host name keeps its port: the page does not replace it
    }
    monkeypatch.setattr(config, "frontend_port", 3001)  # a dev server beside the backend: ports stay
    assert SameOriginFrontend().update_env_json() is None
