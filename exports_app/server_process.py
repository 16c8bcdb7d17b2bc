"""Gunicorn's server hooks for the app (scripts/serve.sh names this module): the server ends with the process that
started it.

`python -m exports_app serve` runs Reflex's production start, which starts gunicorn as its child and waits for it.
A SIGTERM to that process alone (`kill PID`, or a supervisor that signals only its main process) ended it and left
gunicorn's master and workers serving, as orphans, on the port. The master binds itself to its starter when it starts
(bound_child.die_with_parent): when the starter ends, however it ends, the master gets SIGTERM and stops its workers
as at any shutdown (whose leader stops its ffmpeg, jobs/scheduler.py).
"""

from __future__ import annotations

import os
import signal

from exports_app.bound_child import die_with_parent

STARTER = "EXPORTS_SERVER_STARTER"  # the pid of the process that starts gunicorn (frontend_bundle.serve sets it)


def on_starting(server: object) -> None:
    """Gunicorn's hook, in the master before it binds: be sent SIGTERM when the starter ends, or end now if it has."""
    starter = os.environ.get(STARTER, "")
    if starter.isdigit():
        die_with_parent(int(starter), signal.SIGTERM)
