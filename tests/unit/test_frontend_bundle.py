"""The frontend bundle: built only when the compiled sources changed, naming no port for the page's own host, with
a record of its pages' inline scripts for the Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from reflex.config import get_config

from exports_app.frontend_bundle import (
    DIGEST_FILE,
    SCRIPT_HASHES_FILE,
    SameOriginFrontend,
    build_is_stale,
    mark_built,
    recorded_script_hashes,
    sources_digest,
)


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


# The built pages as Vite leaves them: inline scripts shared by every page, one of each page's own (its route's
# module), a script file, and a page in a folder of its own (Reflex copies each index.html up beside its folder).
SHARED = ["\n// the colour mode\nconst theme = 1;\n", 'window.__reactRouterContext = {"ssr":false};']
OWN = {"login.html": 'import * as route1 from "/assets/_login_.js";', "exports/index.html": 'import "/assets/x.js";'}


def page(own: str) -> str:
    inline = "".join(f"<script>{script}</script>" for script in SHARED)
    return f'<html><head>{inline}<script src="/assets/root.js"></script><script type="module">{own}</script></head>'


def sha256_source(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


def build(web: Path) -> None:
    (web / "build" / "client").mkdir(parents=True)
    for name, own in OWN.items():
        (web / "build" / "client" / name).parent.mkdir(parents=True, exist_ok=True)
        (web / "build" / "client" / name).write_text(page(own))
    (web / "build" / "client" / "styles.css").write_text("<script>not a page</script>")
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


def test_a_build_without_its_digest_its_script_record_or_its_files_is_stale(tmp_path: Path) -> None:
    web = web_dir(tmp_path)
    build(web)
    (web / DIGEST_FILE).unlink()
    assert build_is_stale(web)
    mark_built(web)
    (web / SCRIPT_HASHES_FILE).unlink()  # a build made before the record was: its pages would get no hashes
    assert build_is_stale(web)
    mark_built(web)
    assert not build_is_stale(web)
    shutil.rmtree(web / "build" / "client")
    assert build_is_stale(web)
    assert sources_digest(web) == sources_digest(web)


def test_the_build_records_the_hashes_of_its_pages_inline_scripts(tmp_path: Path) -> None:
    """Beside the build, out of what it serves: every inline script of every page, each once, and nothing else."""
    web = web_dir(tmp_path)
    build(web)
    assert SCRIPT_HASHES_FILE.parent == DIGEST_FILE.parent  # beside the digest: not a file the server serves
    recorded = recorded_script_hashes(web) or []
    assert sorted(recorded) == sorted(sha256_source(script) for script in [*SHARED, *OWN.values()])
    assert json.loads((web / SCRIPT_HASHES_FILE).read_text()) == {"script-src": recorded}


def test_a_missing_or_tampered_record_adds_nothing_to_the_policy(tmp_path: Path) -> None:
    web = web_dir(tmp_path)
    assert recorded_script_hashes(web) is None  # not built
    build(web)
    good = sha256_source(SHARED[0])
    tampered = [good, "*", "'unsafe-inline'", "'sha256-x'; script-src *", 3]
    (web / SCRIPT_HASHES_FILE).write_text(json.dumps({"script-src": tampered}))
    assert recorded_script_hashes(web) == [good]
    (web / SCRIPT_HASHES_FILE).write_text("not json")
    assert recorded_script_hashes(web) is None


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
