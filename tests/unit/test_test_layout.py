"""The layout of the tests and benchmarks, read from their imports (ast, so no module is run).

tests/support/ is the testkit. bench/ takes from tests/ only through it, and tests/ never takes from bench/, so
a benchmark can change without breaking a test and the reverse. No module imports a test module (test_*.py) or a
conftest: pytest loads those itself, and a helper kept in one would be collected, or its fixtures re-registered,
where it is imported. The tests/ root holds only the package and its conftest; helpers live in tests/support/.
One Playwright per process, from the root conftest.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTKIT = "tests.support"


def module_name(path: Path) -> str:
    """The dotted name a file is imported under from the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether a dotted name is a module or package of this repository."""
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def package_of(path: Path) -> str:
    """The package a file's relative imports are resolved against."""
    return module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]


def imported_modules(source: str, package: str) -> set[str]:
    """Every module that an import in the source names, inside functions too.

    `from a.b import c` names a.b.c where c is a module of this repository, else a.b; a relative import is resolved
    against the package the source lives in."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                levels = package.split(".")
                anchor = ".".join(levels[: len(levels) - (node.level - 1)])
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base)
    return names


def imports_under(folder: str) -> list[tuple[str, str]]:
    """(file, imported module) for every import in the folder's Python files."""
    return [
        (str(path.relative_to(ROOT)), name)
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(imported_modules(path.read_text(), package_of(path)))
    ]


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def test_bench_takes_from_the_tests_only_their_testkit() -> None:
    wrong = [
        f"{file} imports {name}"
        for file, name in imports_under("bench")
        if within(name, "tests") and not within(name, TESTKIT)
    ]
    assert wrong == [], "bench/ may import tests.support only:\n" + "\n".join(wrong)


def test_the_tests_never_import_the_benchmarks() -> None:
    wrong = [f"{file} imports {name}" for file, name in imports_under("tests") if within(name, "bench")]
    assert wrong == [], "move what both need into tests/support/:\n" + "\n".join(wrong)


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    wrong = [
        f"{file} imports {name}"
        for file, name in imports_under("tests") + imports_under("bench")
        if (within(name, "tests") or within(name, "bench"))
        and (name.rpartition(".")[2].startswith("test_") or name.rpartition(".")[2] == "conftest")
    ]
    assert wrong == [], "move what is shared into tests/support/ (or a helper module of the folder):\n" + "\n".join(
        wrong
    )


def test_the_tests_root_holds_only_the_package_and_its_conftest() -> None:
    helpers = sorted(p.name for p in (ROOT / "tests").glob("*.py") if p.name not in ("__init__.py", "conftest.py"))
    assert helpers == [], f"helpers belong in tests/support/: {helpers}"


def test_only_the_root_conftest_starts_playwright() -> None:
    # Playwright's sync API keeps an asyncio loop running while it is open, so a second sync_playwright() in one
    # process fails; which folders share a worker depends on the run's order. Every browser comes from the root
    # conftest's session fixture `playwright`.
    starters = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != ROOT / "tests" / "conftest.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("playwright")
        and any(alias.name == "sync_playwright" for alias in node.names)
    ]
    assert starters == [], f"use the `playwright` fixture of tests/conftest.py: {starters}"


def test_the_import_reading_sees_every_form_of_import() -> None:
    """The rules above are only as good as this reading: plain, from, from-package, relative and nested imports."""
    assert module_name(ROOT / "tests" / "unit" / "test_test_layout.py") == "tests.unit.test_test_layout"
    assert package_of(ROOT / "tests" / "support" / "__init__.py") == TESTKIT
    assert package_of(ROOT / "tests" / "unit" / "test_test_layout.py") == "tests.unit"
    source = (
        "import bench.common, ast\n"
        "from pathlib import Path\n"
        "from tests.security import raw_http\n"
        "from tests import conftest\n"
        "from . import conftest as c\n"
        "from ..e2e.members import corrupt_export\n"
        "def f():\n"
        "    from tests.unit.test_spaces import x\n"
    )
    assert imported_modules(source, "tests.security") == {
        "bench.common",
        "ast",
        "pathlib",
        "tests.security.raw_http",
        "tests.conftest",
        "tests.security.conftest",
        "tests.e2e.members",
        "tests.unit.test_spaces",
    }
