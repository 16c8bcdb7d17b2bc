"""The capacity benchmark's client, kept working: 20 tabs of 5 members for a few seconds of live status changes.

The app runs as `make run` starts it, on MediaConvert (the test server and moto S3); tests/support/capacity.py moves
each member's job along and the tabs (tests/support/capacity_tabs.py, raw socket.io in a child process) note what
they receive. Correctness only, never timing: every tab gets every change of its own member's and nothing of
anyone else's, and stays connected. The figures are bench/bench_capacity.py's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.capacity import local_aws, make_members, run_round, running_app, start_jobs
from tests.support.clips import make_clip

pytestmark = pytest.mark.e2e

MEMBERS = 5
TABS_PER_MEMBER = 4


def test_every_tab_gets_every_change_of_its_member_and_nothing_else(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, width=160, height=120)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with local_aws() as aws, running_app(data_dir, aws, refresh_seconds=1.0) as app:
        members = make_members(app, MEMBERS, 2, clip, prefix="smoke")
        start_jobs(members, aws.mediaconvert, timeout=300)
        result = run_round(
            app,
            aws.mediaconvert,
            members,
            members,
            tabs_per_member=TABS_PER_MEMBER,
            rate=1.0,
            seconds=6.0,
            refresh_seconds=1.0,
            settle_s=2.0,
        )
    assert result.tabs == result.tabs_ready == MEMBERS * TABS_PER_MEMBER, result.connect_errors
    assert not result.connect_errors
    assert result.commits > 0, "no status change was committed"
    assert not result.missing, result.missing
    assert not result.foreign, result.foreign
    assert result.closed_early == 0
    assert len(result.latencies_ms) == result.commits * TABS_PER_MEMBER  # each tab of the member, each change
