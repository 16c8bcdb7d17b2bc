"""The layout of the tests and benchmarks, read from their imports (ast, so no module is run).

tests/support/ is the testkit. bench/ takes from tests/ only through it, and tests/ never takes from bench/, so
a benchmark can change without breaking a test and the reverse. No module imports a test module (test_*.py) or a
conftest: pytest loads those itself, and a helper kept in one would be collected, or its fixtures re-registered,
where it is imported. The tests/ root holds only the package and its conftest; helpers live in tests/support/.
One Playwright per process, from the root conftest.

The app holds to one rule of the same kind: Reflex's internals (reflex_base, reflex.state, reflex.utils, reflex.istate,
and any name starting with `_` from a Reflex module) are reached only through exports_app/reflex_bridge/, so a Reflex
upgrade that changes them fails in the bridge's contract test and nowhere else. And every module of the app stays
small: under MAX_MODULE_LINES lines, so that one does not grow into two jobs.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTKIT = "tests.support"
BRIDGE = "exports_app.reflex_bridge"
# Reflex's internals: the modules the bridge alone imports (public Reflex is rx.*, reflex.vars, reflex.event,
# reflex.config and the component packages' classes).
REFLEX_INTERNALS = ("reflex_base", "reflex.state", "reflex.utils", "reflex.istate")
# Reflex's names on the wire and in the browser, which the bridge names once (reflex_bridge/wire.py).
MAX_MODULE_LINES = 400  # an app module longer than this has grown a second job: split it
REFLEX_WIRE_NAMES = ("/_event", "/_upload", "/_health", "reflex-client-token", "reflex-event-handler", "sessionStorage")


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


def is_reflex(name: str) -> bool:
    """Whether a dotted name is Reflex's: reflex, reflex_base, a reflex_components_* package, or inside one."""
    top = name.partition(".")[0]
    return top == "reflex" or top.startswith("reflex_")


def reflex_internals_named(source: str, package: str) -> set[str]:
    """The Reflex internals a source imports: modules inside REFLEX_INTERNALS, and names (a module, a class, a
    function) that start with `_`, imported from a Reflex module or reached as an attribute of `rx`."""
    found = {
        name
        for name in imported_modules(source, package)
        if any(within(name, internal) for internal in REFLEX_INTERNALS)
    }
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(
                alias.name
                for alias in node.names
                if is_reflex(alias.name) and any(part.startswith("_") for part in alias.name.split("."))
            )
        elif isinstance(node, ast.ImportFrom) and not node.level and is_reflex(node.module or ""):
            found.update(f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_"))
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id == "rx":
                found.add(f"{ast.unparse(node.value)}.{node.attr}")
    return found


def test_only_the_bridge_reaches_reflex_internals() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} uses {name}"
        for path in sorted((ROOT / "exports_app").rglob("*.py"))
        if not within(module_name(path), BRIDGE)
        for name in sorted(reflex_internals_named(path.read_text(), package_of(path)))
    ]
    assert wrong == [], "give the bridge (exports_app/reflex_bridge/) a typed name for it:\n" + "\n".join(wrong)


def wire_names_written(source: str) -> set[str]:
    """The Reflex wire names that the source's strings spell out (docstrings aside: they may say where things are)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        for name in REFLEX_WIRE_NAMES
        if name.lower() in node.value.lower()
    }


def test_only_the_bridge_spells_reflex_wire_names() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} spells {name!r}"
        for path in sorted((ROOT / "exports_app").rglob("*.py"))
        if not within(module_name(path), BRIDGE)
        for name in sorted(wire_names_written(path.read_text()))
    ]
    assert wrong == [], "take the name from the bridge (exports_app/reflex_bridge/wire.py):\n" + "\n".join(wrong)


def test_every_app_module_is_under_the_line_limit() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for path in (ROOT / "exports_app").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) >= MAX_MODULE_LINES
    }
    assert long == {}


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


def test_the_reflex_internals_reading_sees_every_form_of_reaching_them() -> None:
    source = (
        "import reflex as rx\n"
        "import reflex_base.event\n"
        "from reflex.state import BaseState\n"
        "from reflex.utils import prerequisites\n"
        "from reflex.app import _decode_asgi_headers, App\n"
        "from reflex.vars import ObjectVar\n"
        "from reflex.event import EventSpec\n"
        "from reflex_components_lucide.icon import Icon\n"
        "from exports_app.state._hidden import x\n"
        "def f(state):\n"
        "    from reflex.istate.manager import StateManager\n"
        "    rx.App._add_cors = None\n"
        "    return state._member_key, rx.State.__name__\n"
    )
    assert reflex_internals_named(source, "exports_app.state") == {
        "reflex_base.event",
        "reflex.state",
        "reflex.utils",
        "reflex.app._decode_asgi_headers",
        "reflex.istate.manager",
        "rx.App._add_cors",
    }
    wire = '"""Says /_upload."""\nPATH = "/_upload"\nH = ("Reflex-Client-Token", f"{x}sessionStorage")\n'
    assert wire_names_written(wire) == {"/_upload", "reflex-client-token", "sessionStorage"}
    assert wire_names_written('"""Only a docstring says /_event."""\n') == set()
