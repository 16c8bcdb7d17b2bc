"""A private PostgreSQL server for the tests (Debian's postgresql), started in a temp dir on a free port.

initdb and postgres refuse to run as root, and the tests do (CI too): then the server runs as Debian's
`postgres` system user, in a temp dir that user owns. Settings are for speed: no fsync, nothing durable.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg

from tests.support.database_server import DatabaseServer

SUPERUSER = "postgres"


def server_bindir() -> Path:
    """The directory of initdb and postgres: pg_config's, else the newest /usr/lib/postgresql/<major>/bin."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if found.returncode == 0:
            candidates.append(Path(found.stdout.strip()))
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise RuntimeError("PostgreSQL's server is not installed: apt-get install postgresql")


class PostgreSQL(DatabaseServer):
    """`with PostgreSQL() as db:` then db.create(name) for a database on it; stopped and removed on exit."""

    down_errors = (psycopg.OperationalError,)
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to disconnect

    def __init__(self) -> None:
        super().__init__("postgres-")
        self.bindir = server_bindir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("no `postgres` user to run PostgreSQL as: apt-get install postgresql") from None
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self.as_user = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "--"]

    def init_command(self) -> list[str]:
        return [
            *self.as_user,
            str(self.bindir / "initdb"),
            "--pgdata",
            str(self.dir / "data"),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
            "--no-instructions",
        ]

    def command(self) -> list[str]:
        # The server's time zone is not UTC on purpose: the app's timestamps must be instants whatever it is.
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.port,
            "unix_socket_directories": self.dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": 300,
            "shared_buffers": "64MB",
            "timezone": "Asia/Kolkata",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        return [*self.as_user, str(self.bindir / "postgres"), "-D", str(self.dir / "data"), *options]

    def execute(self, sql: str) -> None:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True, connect_timeout=5
        ) as conn:
            conn.execute(sql)

    def create_sql(self, name: str) -> str:
        return f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'"

    def drop_sql(self, name: str) -> str:
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'  # even with a test's connections still open

    def clone(self, template: str, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"
