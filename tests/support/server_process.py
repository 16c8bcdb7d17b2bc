"""The common part of the private servers tests start (MariaDB, PostgreSQL, Redis): a temp dir, a free port,
a clean stop."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.ports import free_port


class ServerProcess:
    """A server process the tests own; subclasses start it in __enter__. Stopped and its dir removed on exit."""

    stop_signal = signal.SIGTERM  # the signal that shuts the server down without waiting for its clients

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """Stop the server, keeping its files (a test may start it again)."""
        if self.process is not None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
