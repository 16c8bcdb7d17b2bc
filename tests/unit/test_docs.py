"""The docs a cloner gets stand alone and stay true: every link in the Markdown resolves inside the repository, and
every file or folder of the repository that they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import ROOT

DOCS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\./[^`]*|/[a-z]+/[^`\s]*\.md)`")  # a file named outside the repository
# A file of the repository named in code style (`services/auth.py`, `scripts/serve.sh`, `tests/durations.json`), or
# a folder of two parts or more (`tests/support/`). A bare file name (`logs.py`) is looked for in the code's folders.
NAMED = re.compile(r"`([\w./-]*[\w-]\.(?:py|sh|md|toml|ini|json)|[\w.-]+(?:/[\w.-]+)+/)`")
NOT_IN_THE_REPOSITORY = ("../", "/", "test-artifacts/", "data/", "$")  # outside it, or made by a run
CODE_FOLDERS = ("exports_app", "tests", "bench", "scripts", "alembic")


def test_the_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("docs/architecture.md", "docs/api.md", "docs/ui.md", "docs/benchmarks.md"):
        assert f"]({name})" in readme and (ROOT / name).is_file(), name


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_link_stays_inside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    outside = CODE_PATH.findall(text)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:", "#")):
            continue
        resolved = (doc.parent / target.split("#")[0]).resolve()
        if not (resolved.is_relative_to(ROOT) and resolved.exists()):
            outside.append(target)
    assert outside == []


def _exists(name: str) -> bool:
    if (ROOT / name).exists() or (ROOT / "exports_app" / name).exists():  # modules are named from the package
        return True
    return "/" not in name.rstrip("/") and any(next((ROOT / top).rglob(name), None) for top in CODE_FOLDERS)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_file_and_folder_the_docs_name_exists(doc: Path) -> None:
    named = [name for name in NAMED.findall(doc.read_text()) if not name.startswith(NOT_IN_THE_REPOSITORY)]
    assert [name for name in named if not _exists(name)] == []
