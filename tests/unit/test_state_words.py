"""The words of the four HLS states and of the media jobs' statuses are written in one place each: hls_states.py
and domain.JobStatus. Everywhere else in the app says them by name (READY, JobStatus.FAILED, …), so a renamed or
added state cannot leave a copy behind that still compares with the old word."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from exports_app.domain import JobStatus
from exports_app.hls_states import HlsState
from tests.support.paths import ROOT

APP = ROOT / "exports_app"
THE_PLACES = {APP / "hls_states.py", APP / "domain.py"}
WORDS = set(get_args(HlsState)) | {status.value for status in JobStatus}
# The same word meaning something else, by module.
OTHER_MEANINGS = {("api/ops_routes.py", "ready"): "/readyz's verdict (docs/operations.md), not an export's state"}


def _docstrings(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr)
    }


def bare_words(path: Path, package: Path = APP) -> list[str]:
    """Each string constant of the module (docstrings aside) that is a state's or a status's word."""
    tree = ast.parse(path.read_text())
    docstrings = _docstrings(tree)
    module = path.relative_to(package).as_posix()
    return [
        f"{module}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in WORDS
        and id(node) not in docstrings
        and (module, node.value) not in OTHER_MEANINGS
    ]


def test_state_and_status_words_only_in_their_two_modules() -> None:
    found = [word for path in sorted(APP.rglob("*.py")) if path not in THE_PLACES for word in bare_words(path)]
    assert found == []


def test_the_check_sees_a_bare_word(tmp_path: Path) -> None:
    module = tmp_path / "api" / "ops_routes.py"
    module.parent.mkdir()
    module.write_text('"""ready"""\n\nif state == "ready":\n    status = "timed_out"\n')
    assert bare_words(module, tmp_path) == ["api/ops_routes.py:4: 'timed_out'"]  # the verdict's "ready" is another word
    module.rename(module.with_name("publish.py"))
    assert bare_words(module.with_name("publish.py"), tmp_path) == [
        "api/publish.py:3: 'ready'",
        "api/publish.py:4: 'timed_out'",
    ]
