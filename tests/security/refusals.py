"""How the app says no to a file, as the attacker suite reads it: the CLI import's exit and words, and /_upload's
answer together with what the page is told over its websocket."""

from __future__ import annotations

import re
import subprocess

from tests.security.raw_http import RawResponse
from tests.security.world import World
from tests.support.socketio_client import EventSocket

REFUSAL = "not a supported video"


def run_cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m exports_app …` against the app's data dir, whatever its exit code (RunningApp.run_cli)."""
    return world.app.run_cli(*args)


def upload_refused(answer: RawResponse | None, tab: EventSocket, since: int) -> tuple[bool, str]:
    """Whether /_upload refused the file saying REFUSAL (or at the gate, with a 4xx), and what it said.

    The upload handler streams the file and then tells the page over its websocket: "Added …" or the refusal.
    """
    assert answer is not None, "/_upload never answered"
    assert answer.status < 500, f"/_upload answered {answer.status}: {answer.body[:200]!r}"
    if answer.status >= 400:
        return True, f"{answer.status} {answer.body[:200]!r}"
    tab.wait_for(("supported video", "Added"), 30, since)  # whichever the handler says
    said = "\n".join(tab.frames[since:])
    shown = re.findall(r'"(?:upload_error|message)_rx_state_":\s*"([^"]+)"', said)
    return REFUSAL in said.lower(), "; ".join(shown) or said[-300:]
