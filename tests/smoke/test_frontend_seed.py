"""App starts at once from a checkout that has no frontend yet: every one serves, and none changes reflex.lock/.

Each start initialises Reflex's frontend in a web dir of its own, with the checkout as its working directory, so
each copies bun.lock and package.json back to the checkout's reflex.lock/ after its install. Reflex's plain copy
truncates and then writes: a start that read the file in between installed against an empty lockfile and refused
to start ("The persisted lockfile is out of sync"), or persisted the empty file, and the checkout could not
`make run` any more (the frontend's part of exports_app/reflex_bridge/patches.py). The starts run in a copy of the
checkout's tracked files, so the checkout itself is never at stake.

Three starts rarely meet in that window (the truncation lasts microseconds), so beside them a fourth process plays
many more starts: it runs the step every start runs after its install, the copy of its web dir's lockfiles back to
the checkout, in a loop, with the checkout's own set-up of that step (on e9dc3c6, Reflex's plain copy). It loops
until every start is past its last lockfile step (it says which build it serves, after the compile's install): then
no start reads or writes reflex.lock/ any more, and the loop would only take a core from the starts' builds.

The first start past its lockfile step goes on to serve: a start from a checkout with no frontend serves after the
race. The others are stopped there: what is left of a start is its Vite build, which reads its own web dir only and
is the build every other app test serves (two more builds were about 21 CPU s of the suite's run, and tested nothing
of the race).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.app_process import ready, spawn_serve, stop_group
from tests.support.paths import ROOT
from tests.support.ports import free_port

STARTS = 3
LOCKFILES = ("bun.lock", "package.json")
# What a start logs once its compile (and the package install in it) is done, as its build step begins
# (exports_app/frontend_bundle.py): it touches reflex.lock/ no more.
PAST_THE_LOCKFILES = "Frontend: "
# Another start's copy-back of its lockfiles, over and over, as the checkout sets that step up for a start.
MANY_STARTS_PERSISTING = """
from reflex.utils import frontend_skeleton
from exports_app import reflex_bridge
patches = getattr(reflex_bridge, "patches", None)  # none on e9dc3c6: Reflex's plain copy
if patches is not None:
    patches.install(frontend=patches.FrontendBuild(stale=lambda web: False, built=lambda web: None))
while True:
    frontend_skeleton.sync_web_lockfiles_to_root()
"""


class Start(NamedTuple):
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def _tracked_copy(target: Path) -> Path:
    """The checkout's tracked files as they are on disk now (no .web, .venv or data), in `target`."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the checkout's git index to copy its tracked files")
def test_starts_at_once_without_a_seed_are_never_refused_and_leave_the_lockfiles_alone(tmp_path: Path) -> None:
    checkout = _tracked_copy(tmp_path / "checkout")
    committed = {name: (checkout / "reflex.lock" / name).read_bytes() for name in LOCKFILES}
    assert not (checkout / ".web").exists()
    starts: list[Start] = []
    persisting_web = tmp_path / "persisting-web"
    persisting_web.mkdir()
    for name in LOCKFILES:
        shutil.copy2(checkout / "reflex.lock" / name, persisting_web / name)
    persisting = subprocess.Popen(
        [sys.executable, "-c", MANY_STARTS_PERSISTING],
        cwd=checkout,
        env={**os.environ, "REFLEX_WEB_WORKDIR": str(persisting_web)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for number in range(STARTS):
            port, work = free_port(), tmp_path / f"start-{number}"
            work.mkdir()
            env = {
                **os.environ,
                "EXPORTS_DATA_DIR": str(work / "data"),
                "EXPORTS_PORT": str(port),
                "EXPORTS_SKIP_SEED": "1",
                "REFLEX_WEB_WORKDIR": str(work / "web"),
                "REFLEX_STATES_WORKDIR": str(work / "states"),
            }
            env.pop("EXPORTS_DATABASE_URL", None)
            starts.append(Start(port, spawn_serve(checkout, env, work / "serve.log"), work / "serve.log"))
        past: list[Start] = []  # the starts past their lockfiles, in that order
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for start in starts:
                if (
                    start not in past
                    and start.process.poll() is None
                    and PAST_THE_LOCKFILES in start.log.read_text(errors="replace")
                ):
                    past.append(start)
                    if len(past) > 1:  # only its Vite build is left, which plays no part in the race
                        stop_group(start.process)
            # A start that ended on its own (not one stopped here) was refused.
            refused = [
                start.log.read_text()[-1500:]
                for start in starts
                if start.process.poll() is not None and start not in past[1:]
            ]
            assert not refused, "a start refused to run:\n" + "\n---\n".join(refused)
            if len(past) == STARTS:
                persisting.kill()
                if ready(f"http://127.0.0.1:{past[0].port}"):
                    break
            time.sleep(1)
        else:
            pytest.fail(f"{len(past)} of {STARTS} starts got past their lockfiles, and the first did not serve in time")
    finally:
        persisting.kill()
        persisting.wait(timeout=10)
        for _, process, _ in starts:
            stop_group(process)
    for name in LOCKFILES:
        assert (checkout / "reflex.lock" / name).read_bytes() == committed[name], f"reflex.lock/{name} was changed"
