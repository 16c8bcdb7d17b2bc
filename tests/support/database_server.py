"""What the private database servers of the tests share (MariaDB, PostgreSQL): initialise a data dir once,
start (or restart) the server, wait until it answers, create and drop databases on it."""

from __future__ import annotations

import subprocess
import time
from typing import Self

from tests.support.server_process import ServerProcess


class DatabaseServer(ServerProcess):
    """`with Server() as db:` then db.create(name) for the SQLAlchemy URL of a new database on it.

    Subclasses give the command that makes the data dir, the server's command line, how to run one statement
    as the superuser (raising one of `down_errors` while the server does not answer) and the SQL and URLs.
    """

    down_errors: tuple[type[Exception], ...] = ()

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.log = self.dir / "server.log"

    def __enter__(self) -> Self:
        made = subprocess.run(self.init_command(), capture_output=True, text=True, timeout=120)
        if made.returncode != 0:
            raise RuntimeError(f"{made.args[0]} failed: {(made.stdout + made.stderr)[-2000:]}")
        self.start()
        return self

    def start(self) -> None:
        """Start (or restart) the server on its port and data dir; returns once it answers."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.execute("SELECT 1")
                return
            except self.down_errors as exc:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(self.log.read_text(errors="replace")[-2000:]) from exc
                time.sleep(0.1)

    def create(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        self.execute(self.create_sql(name))
        return self.url(name)

    def drop(self, name: str) -> None:
        self.execute(self.drop_sql(name))

    def clone(self, template: str, name: str) -> str:
        """A new database with the tables, indexes, constraints and rows of `template`; returns its URL (a fraction
        of the time the migrations take to make the same)."""
        raise NotImplementedError

    # What each server says differently.
    def init_command(self) -> list[str]:
        """The command that makes the data dir."""
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def create_sql(self, name: str) -> str:
        raise NotImplementedError

    def drop_sql(self, name: str) -> str:
        raise NotImplementedError

    def url(self, name: str) -> str:
        raise NotImplementedError
