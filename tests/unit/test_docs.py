"""The docs a cloner gets stand alone: every link in the Markdown resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import ROOT

DOCS = sorted([*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"`(\.\./[^`]*|/[a-z]+/[^`\s]*\.md)`")  # a file named outside the repository


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
