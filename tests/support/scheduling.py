"""How the SQLite run's tests are shared between pytest-xdist workers: which tests go together, and in what order.

Under pytest-xdist (`make test` runs the SQLite tests in four workers), the tests of a directory whose tests share
something costly made once per session stay in one worker, so it is made once: tests/hls's transcoded sources, and
tests/security's world (an app, two members, six imports and two transcodes). Every other module stays whole in the
worker it lands on, so its module-scoped fixtures are made once. (xdist's own --dist loadgroup cannot do it on
pytest 9: it renames node ids, which pytest 9 no longer lets it do; the scheduler sees only node ids, not fixtures,
hence directories.)

The work units are handed out longest first, so that a long one does not start last and leave the other workers idle
at the end (xdist's own order is by the number of tests, which puts a module of three minute-long tests last). How
long each unit takes comes from tests/durations.json, written by `scripts/test.sh --store-durations`; a unit it
does not know yet counts as a few seconds a test.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

SHARED_APP_DIRS = ("tests/hls/", "tests/security/")
# Modules of a shared-app directory that form a unit of their own, with an app (a world) of their own in the worker
# they land on: tests/security/ grew to 310 s in one unit, the SQLite run's longest path by far; its round on what
# one member can make the server spend goes beside the rest for the cost of one more app start.
OWN_UNITS = {
    "tests/security/budgets": (
        "tests/security/test_socket_budget.py",
        "tests/security/test_row_quotas.py",
        "tests/security/test_upload_limits.py",
        "tests/security/test_operator_surfaces.py",
    ),
}
DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"
UNKNOWN_SECONDS_PER_TEST = 3.0


class Item(Protocol):
    @property
    def nodeid(self) -> str: ...


T = TypeVar("T", bound=Item)


def worker_group(nodeid: str) -> str:
    """The xdist work unit of a test: its own unit (OWN_UNITS), its shared-app directory, or else its module."""
    module = nodeid.split("::")[0]
    own = next((unit for unit, modules in OWN_UNITS.items() if module in modules), None)
    return own or next((directory for directory in SHARED_APP_DIRS if module.startswith(directory)), module)


def known_durations(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds per work unit, as last stored; empty if never stored (or unreadable: the order is only a hint)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(unit): float(seconds) for unit, seconds in stored.items()} if isinstance(stored, dict) else {}


def longest_first(items: Sequence[T], durations: dict[str, float]) -> list[T]:
    """items with each work unit's tests together, the units longest first; the tests of a unit keep their order."""
    units = [worker_group(item.nodeid) for item in items]
    tests_per_unit = Counter(units)
    first_seen: dict[str, int] = {}
    for position, unit in enumerate(units):
        first_seen.setdefault(unit, position)

    def weight(unit: str) -> float:
        return durations.get(unit, UNKNOWN_SECONDS_PER_TEST * tests_per_unit[unit])

    order = sorted(range(len(items)), key=lambda n: (-weight(units[n]), first_seen[units[n]], n))
    return [items[n] for n in order]


def store_durations(seconds_per_test: Iterable[tuple[str, float]], path: Path = DURATIONS) -> None:
    """Write the seconds each work unit took (setup, call and teardown of its tests), rounded, longest first."""
    per_unit: dict[str, float] = {}
    for nodeid, seconds in seconds_per_test:
        unit = worker_group(nodeid)
        per_unit[unit] = per_unit.get(unit, 0.0) + seconds
    longest = sorted(per_unit.items(), key=lambda pair: -pair[1])
    path.write_text(json.dumps({unit: round(s, 1) for unit, s in longest}, indent=1) + "\n")
